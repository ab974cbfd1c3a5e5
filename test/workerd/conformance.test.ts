/**
 * The shared conformance cases (test/conformance/cases.ts) against the Worker inside workerd, through SELF (the
 * production entry and wrangler.toml, with the workerd project's test bindings in vitest.config.ts). The models come
 * from test/workerd/global-setup.ts, which must write the set test/conformance/models.ts describes.
 */
import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, inject, it } from 'vitest';
import { defineConformanceSuite } from '../conformance/cases.js';
import { defineConfigCases } from '../conformance/config.cases.js';
import { defineEmbedCases } from '../conformance/embed.cases.js';
import { defineErrorCases } from '../conformance/errors.cases.js';
import { defineServiceCases } from '../conformance/service.cases.js';
import { defineOpenApiSuite } from '../conformance/openapi.cases.js';
import { defineUrlAndCacheSuite } from '../conformance/url-cache.cases.js';
import type { ConformanceTarget } from '../conformance/target.js';
import { appWith } from './app-with.js';
import { fixture } from './helpers.js';

const target = (): ConformanceTarget => ({
  name: 'workerd',
  fetch: (path, init) => SELF.fetch(`https://service.test${path}`, init),
  shared: async (file) => {
    const response = await env.FIXTURES.fetch(`http://fixtures/shared/${file}`);
    if (!response.ok) throw new Error(`fixture ${file}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  },
  send: (request) => SELF.fetch(request),
  file: fixture,
  tinyModels: inject('tinyModels'),
  referenceEmbeddings: inject('referenceEmbeddings'),
  withConfig: async (overrides) => appWith(overrides),
});

it('the golden models were built from the fixture checkpoints', () => {
  expect(inject('goldenBuildErrors')).toEqual({ m0: undefined, m1: undefined });
});

defineConformanceSuite(target);
defineUrlAndCacheSuite(target, () => inject('imageOrigin'));
defineErrorCases(target);
defineServiceCases(target);
defineConfigCases(target);
defineOpenApiSuite(target, () => inject('imageOrigin'));
defineEmbedCases(target);
