/**
 * The shared conformance cases against `npm start` itself: a real `npm start` process (scripts/start.ts: the Worker
 * bundled as deployed, in workerd via Miniflare, behind the local front scripts/lib/continue-front.ts), over real
 * HTTP. The same cases as the in-workerd runner, so that whatever the front does to requests and answers shows.
 * `withConfig` starts another `npm start` with the overrides as `--var`s (one per distinct config).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { type ConfigVars, parseConfig, type ServiceConfig } from '../../../worker/service/config.js';
import { type ImageOrigin, startImageOrigin } from '../../helpers/image-origin.js';
import { type NpmStart, startNpmStart } from '../../helpers/npm-start.js';
import { skipCases } from './case.js';
import { defineConformanceSuite } from './cases.js';
import { defineConfigCases } from './config.cases.js';
import { defineEmbedCases } from './embed.cases.js';
import { defineErrorCases } from './errors.cases.js';
import { referenceEmbeddings, repoRoot, sharedRoot, writeConformanceModels, writeSolidColourImages } from './models.js';
import { defineOpenApiSuite } from './openapi.cases.js';
import { defineServiceCases } from './service.cases.js';
import { CONFORMANCE_CONFIG, type ConformanceTarget } from './target.js';
import type { TinyModelInfo } from './test-data.js';
import { defineUrlAndCacheSuite } from './url-cache.cases.js';

/** The overrides the cases use, as the vars that set them; the round trip through parseConfig proves the mapping. */
function configVars(overrides: Partial<ServiceConfig>): ConfigVars {
  const vars: ConfigVars = { ...CONFORMANCE_CONFIG };
  for (const [key, value] of Object.entries(overrides)) {
    if (key === 'maxBodyBytes') vars.MAX_BODY_BYTES = String(value);
    else if (key === 'maxImagePixels') vars.MAX_MEGAPIXELS = String((Number(value) + 0.5) / 1_000_000);
    else if (key === 'maxBatch') vars.MAX_BATCH = String(value);
    else if (key === 'defaultModel') vars.DEFAULT_MODEL = String(value);
    else if (key === 'apiToken') vars.API_TOKEN = String(value);
    else if (key === 'corsOrigins') vars.CORS_ORIGINS = (value as string[]).join(',');
    else throw new Error(`npm-start runner: no var for config ${key}`);
  }
  expect(parseConfig(vars)).toMatchObject(overrides);
  return vars;
}

/** A Request built for any host, sent to `origin` over real HTTP. */
function sendTo(origin: URL, request: Request): Promise<Response> {
  const url = new URL(request.url);
  return fetch(new URL(url.pathname + url.search, origin), {
    method: request.method,
    headers: request.headers,
    body: request.body,
    duplex: 'half',
  } as RequestInit);
}

let imageOrigin: ImageOrigin;
let modelsDir: string;
let imagesDir: string;
let main: NpmStart;
const started = new Map<string, Promise<NpmStart>>();
const tinyModels: TinyModelInfo[] = [];
const goldenEmbeddings = {} as ConformanceTarget['referenceEmbeddings'];

beforeAll(async () => {
  imageOrigin = await startImageOrigin();
  modelsDir = mkdtempSync(path.join(os.tmpdir(), 'npm-start-conformance-'));
  const { tiny, tiny10 } = writeConformanceModels(modelsDir);
  Object.assign(goldenEmbeddings, { m0: referenceEmbeddings('m0'), m1: referenceEmbeddings('m1') });
  tinyModels.push(
    { name: 'tiny', classes: tiny.classes, weights: tiny.weights, bias: tiny.bias },
    { name: 'tiny-10', classes: tiny10.classes, weights: tiny10.weights, bias: tiny10.bias },
  );
  imagesDir = mkdtempSync(path.join(os.tmpdir(), 'npm-start-conformance-images-'));
  await writeSolidColourImages((name, bytes) => writeFileSync(path.join(imagesDir, name), bytes));
  main = await startNpmStart(modelsDir, CONFORMANCE_CONFIG as Record<string, string>);
});

afterAll(async () => {
  await main?.stop();
  await Promise.all([...started.values()].map(async (start) => (await start.catch(() => undefined))?.stop()));
  await imageOrigin?.close();
  if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
  if (imagesDir) rmSync(imagesDir, { recursive: true, force: true });
});

const fileRoots = (): Record<string, string> => ({
  shared: sharedRoot,
  fixtures: path.join(repoRoot, 'test/fixtures'),
  generated: imagesDir,
});

const target = (): ConformanceTarget => ({
  // The Worker in workerd answers, as in the in-workerd runner: the cases' runtime branches are the Worker's.
  name: 'workerd',
  fetch: (requestPath, init) => fetch(new URL(requestPath, main.url), init),
  shared: async (file) => new Uint8Array(await readFile(path.join(sharedRoot, file))),
  send: (request) => sendTo(main.url, request),
  file: async (file) => {
    const [root, ...rest] = file.split('/');
    return new Uint8Array(await readFile(path.join(fileRoots()[root], ...rest)));
  },
  tinyModels,
  referenceEmbeddings: goldenEmbeddings,
  withConfig: async (overrides) => {
    const vars = configVars(overrides) as Record<string, string>;
    const key = JSON.stringify(vars);
    if (!started.has(key)) started.set(key, startNpmStart(modelsDir, vars));
    const other = await started.get(key)!;
    return (request) => sendTo(other.url, request);
  },
});

// Every case runs through `npm start`: the front relays requests and answers as they are.
skipCases({});

defineConformanceSuite(target);
defineUrlAndCacheSuite(target, () => imageOrigin.url);
defineErrorCases(target);
defineServiceCases(target);
defineConfigCases(target);
defineOpenApiSuite(target, () => imageOrigin.url);
defineEmbedCases(target);
