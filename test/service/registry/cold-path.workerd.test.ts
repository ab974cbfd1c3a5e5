/**
 * The cold path in workerd: a model load started by a request outlives that request (workerd cancels what a
 * request leaves behind unless it is kept alive with ctx.waitUntil, which the entry hands the app as `background`),
 * and mixed m0/m1 traffic in one isolate is answered by the right model, with both sessions kept (wrangler.toml's
 * MAX_LOADED_MODELS = 2).
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../../worker/service/app.js';
import { workerdDeps } from '../../../worker/runtimes/workerd/handler.js';
import { fixture, worker } from '../../runtimes/workerd/helpers.js';
import { classifyRequest, okJson, type Fetch, type Prediction } from '../conformance/http.js';

interface Listing {
  models: { name: string; loaded: boolean }[];
}

const loaded = async (fetch: Fetch, name: string) =>
  ((await (await fetch(new Request('http://localhost/v1/models'))).json()) as Listing).models.find(
    (m) => m.name === name,
  )?.loaded;

describe('a model load started by a request', () => {
  it('is started on arrival and handed to the background, and completes after the request was answered', async () => {
    const deps = workerdDeps(env);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const backend = { ...deps.backend, load: async (bytes: Uint8Array) => (await gate, deps.backend.load(bytes)) };
    const kept: Promise<unknown>[] = [];
    const app = createApp({ ...deps, backend, background: (_c, work) => void kept.push(work) });
    const fetch: Fetch = async (request) => app.fetch(request);

    // Not an image: answered before the (gated) load can finish.
    const response = await fetch(classifyRequest(new TextEncoder().encode('not an image'), { query: 'model=tiny' }));
    expect(response.status).toBe(415);
    expect(kept).toHaveLength(1);
    expect(await loaded(fetch, 'tiny')).toBe(false);
    open();
    await Promise.all(kept);
    expect(await loaded(fetch, 'tiny')).toBe(true);
  });

  it('on the worker: survives the end of the request that started it (ctx.waitUntil)', async () => {
    expect(await loaded(worker, 'tiny-10')).toBe(false);
    const response = await worker(
      classifyRequest(new TextEncoder().encode('not an image'), { query: 'model=tiny-10' }),
    );
    expect(response.status).toBe(415);
    await response.arrayBuffer();
    // No request of its own is left to finish the load: only the background hold does. Wait for it (bounded).
    for (let i = 0; i < 600 && !(await loaded(worker, 'tiny-10')); i++)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await loaded(worker, 'tiny-10')).toBe(true);
  });
});

describe('mixed m0/m1 traffic in one isolate', () => {
  it('alternating and concurrent requests are each answered by their own model, and both stay loaded', async () => {
    const jpeg = await fixture(`shared/images/imagenet-sample/${await goldenImage()}`);
    const ask = async (model: string) =>
      okJson<{ model: string; predictions: Prediction[] }>(
        await worker(classifyRequest(jpeg, { query: `model=${model}&top_k=5`, contentType: 'image/jpeg' })),
      );
    const models = ['m0-fp32', 'm1-fp32'];
    const alone = new Map<string, { model: string; predictions: Prediction[] }>();
    for (const model of models) alone.set(model, await ask(model));
    expect(alone.get('m0-fp32')!.model).toBe('efficientvit_m0.fp32');
    expect(alone.get('m1-fp32')!.model).toBe('efficientvit_m1.fp32');

    const sequence = Array.from({ length: 6 }, (_, i) => models[i % 2]);
    const alternating = [];
    for (const model of sequence) alternating.push(await ask(model));
    const concurrentModels = ['m0-fp32', 'm1-fp32', 'm1-fp32', 'm0-fp32', 'm1-fp32', 'm0-fp32', 'm0-fp32', 'm1-fp32'];
    const concurrent = await Promise.all(concurrentModels.map(ask));

    const expectSame = (body: { model: string; predictions: Prediction[] }, model: string) => {
      const reference = alone.get(model)!;
      expect(body.model).toBe(reference.model);
      expect(body.predictions.map((p) => p.index)).toEqual(reference.predictions.map((p) => p.index));
      body.predictions.forEach((p, i) => expect(p.score).toBeCloseTo(reference.predictions[i].score, 5));
    };
    alternating.forEach((body, i) => expectSame(body, sequence[i]));
    concurrent.forEach((body, i) => expectSame(body, concurrentModels[i]));
    // The two answer differently (so a mix-up would show), and neither session was dropped for the other.
    expect(alone.get('m0-fp32')!.predictions).not.toEqual(alone.get('m1-fp32')!.predictions);
    expect(await loaded(worker, 'm0-fp32')).toBe(true);
    expect(await loaded(worker, 'm1-fp32')).toBe(true);
  });
});

async function goldenImage(): Promise<string> {
  const meta = JSON.parse(new TextDecoder().decode(await fixture('shared/fixtures/golden/m0.json'))) as {
    images: string[];
  };
  return meta.images[0];
}
