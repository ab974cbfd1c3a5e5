/**
 * The shared conformance cases (test/service/conformance/cases.ts) against the Worker inside workerd, through SELF (the
 * production entry and wrangler.toml, with the workerd project's test bindings in vitest.config.ts). The models come
 * from test/runtimes/workerd/global-setup.ts, which must write the set test/service/conformance/models.ts describes.
 */
import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, inject, it } from 'vitest';
import { defineConformanceSuite } from './cases.js';
import { defineConfigCases } from './config.cases.js';
import { defineEmbedCases } from './embed.cases.js';
import { defineErrorCases } from './errors.cases.js';
import { defineServiceCases } from './service.cases.js';
import { defineOpenApiSuite } from './openapi.cases.js';
import { defineUrlAndCacheSuite } from './url-cache.cases.js';
import type { ConformanceTarget } from './target.js';
import { skipCases } from './case.js';
import { appWith } from '../../runtimes/workerd/app-with.js';
import { fixture } from '../../runtimes/workerd/helpers.js';

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

// Every case runs in workerd: nothing here is Node-only.
skipCases({});

defineConformanceSuite(target);
defineUrlAndCacheSuite(target, () => inject('imageOrigin'));
defineErrorCases(target);
defineServiceCases(target);
defineConfigCases(target);
defineOpenApiSuite(target, () => inject('imageOrigin'));
defineEmbedCases(target);
