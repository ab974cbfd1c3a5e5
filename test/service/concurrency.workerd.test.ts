/**
 * Concurrent requests in one isolate share one session per model safely: 16 at once, each with its own image, each
 * gets exactly its own result — on a warm model, and on a cold app where all 16 race to load the model; and requests
 * for two models at once with MAX_LOADED_MODELS = 1 (wrangler.toml allows 2 now; a deployment may set 1), where the
 * sessions take turns.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../worker/service/app.js';
import { workerdDeps } from '../../worker/runtimes/workerd/handler.js';
import { SOLID_COLOURS, LOSSLESS_FORMATS } from './conformance/test-data.js';
import { fixture, tinyModel, worker } from '../runtimes/workerd/helpers.js';
import {
  classifyRequest,
  expectedSolidScores,
  expectPredictions,
  okJson,
  type Fetch,
  type Prediction,
} from './conformance/http.js';

const CONCURRENT = 16;

async function sixteenDifferentRequests(): Promise<{ request: Request; rgb: readonly [number, number, number] }[]> {
  const images = await Promise.all(
    SOLID_COLOURS.flatMap((colour) =>
      LOSSLESS_FORMATS.map(async (format) => ({
        bytes: await fixture(`generated/${colour.name}.${format}`),
        rgb: colour.rgb,
      })),
    ),
  );
  return Array.from({ length: CONCURRENT }, (_, i) => {
    const image = images[i % images.length];
    return { request: classifyRequest(image.bytes, { query: 'model=tiny&top_k=5' }), rgb: image.rgb };
  });
}

async function expectEachGetsItsOwnResult(fetch: Fetch): Promise<void> {
  const cases = await sixteenDifferentRequests();
  const responses = await Promise.all(cases.map(({ request }) => fetch(request)));
  const bodies = await Promise.all(responses.map((response) => okJson<{ predictions: Prediction[] }>(response)));
  bodies.forEach((body, i) =>
    expectPredictions(body.predictions, expectedSolidScores(cases[i].rgb, tinyModel('tiny')), 5),
  );
}

describe(`${CONCURRENT} concurrent requests`, () => {
  it('on the worker (warm model): each gets its own result', async () => {
    await okJson(
      await worker(classifyRequest(await fixture(`generated/${SOLID_COLOURS[0].name}.png`), { query: 'model=tiny' })),
    );
    await expectEachGetsItsOwnResult(worker);
  });

  it('on a cold app: all race to load the model, it loads once, and each gets its own result', async () => {
    const deps = workerdDeps(env);
    let loads = 0;
    const backend = {
      ...deps.backend,
      load: (...args: Parameters<typeof deps.backend.load>) => (loads++, deps.backend.load(...args)),
    };
    const app = createApp({ ...deps, backend, resultCache: undefined }); // every request computed
    await expectEachGetsItsOwnResult(async (request) => app.fetch(request));
    expect(loads).toBe(1);
  });

  it('mixed with bad requests: the good ones are unaffected', async () => {
    const cases = await sixteenDifferentRequests();
    const bad = [
      classifyRequest(new TextEncoder().encode('not an image')),
      classifyRequest(new Uint8Array(10), { query: 'model=tiny-missing' }),
      classifyRequest(new Uint8Array(0)),
      classifyRequest(await fixture(`generated/${SOLID_COLOURS[0].name}.png`), { query: 'top_k=0' }),
    ];
    const [goodResponses, badResponses] = await Promise.all([
      Promise.all(cases.map(({ request }) => worker(request))),
      Promise.all(bad.map((request) => worker(request))),
    ]);
    expect(badResponses.map((r) => r.status)).toEqual([415, 415, 400, 400]);
    const bodies = await Promise.all(goodResponses.map((response) => okJson<{ predictions: Prediction[] }>(response)));
    bodies.forEach((body, i) =>
      expectPredictions(body.predictions, expectedSolidScores(cases[i].rgb, tinyModel('tiny')), 5),
    );
  });

  it('for two models at once with one session allowed: every request is answered by its own model', async () => {
    const base = workerdDeps(env);
    const deps = { ...base, config: { ...base.config, maxLoadedModels: 1 } };
    const events: ('load' | 'release')[] = [];
    const backend = {
      ...deps.backend,
      load: async (bytes: Uint8Array) => {
        events.push('load');
        const session = await deps.backend.load(bytes);
        return { ...session, release: () => (events.push('release'), session.release()) };
      },
    };
    const app = createApp({ ...deps, backend, resultCache: undefined }); // every request computed
    const colour = SOLID_COLOURS[0];
    const image = await fixture(`generated/${colour.name}.png`);
    const models = Array.from({ length: CONCURRENT }, (_, i) => (i % 2 === 0 ? 'tiny' : 'tiny-10'));
    const responses = await Promise.all(
      models.map((model) => app.fetch(classifyRequest(image, { query: `model=${model}&top_k=5` }))),
    );
    const bodies = await Promise.all(responses.map((response) => okJson<{ predictions: Prediction[] }>(response)));
    bodies.forEach((body, i) =>
      expectPredictions(body.predictions, expectedSolidScores(colour.rgb, tinyModel(models[i])), 5),
    );
    // Never two sessions alive at once: loads and releases alternate, so each load follows the previous release.
    expect(events.filter((e) => e === 'load').length).toBeGreaterThanOrEqual(2);
    expect(events).toEqual(events.map((_, i) => (i % 2 === 0 ? 'load' : 'release')));
    const listing = (await (await app.fetch(new Request('http://localhost/v1/models'))).json()) as {
      models: { name: string; loaded: boolean }[];
    };
    expect(listing.models.filter((m) => m.loaded)).toHaveLength(1);
  });
});
