/**
 * onnxruntime-web inside workerd (worker/core/inference/ort-web.ts) and the model registry: sessions created on first
 * use from the Static Assets binding, reused, recovered after failures, and batches run as one session call.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import { createApp } from '../../../worker/service/app.js';
import { workerdDeps } from '../../../worker/runtimes/workerd/handler.js';
import type { ModelSession } from '../../../worker/core/inference/backend.js';
import { createOrtWebBackend } from '../../../worker/core/inference/ort-web.js';
import { createFetchModelFiles, type ModelFiles } from '../../../worker/service/registry/model-files.js';
import { ModelRegistry } from '../../../worker/service/registry/registry.js';
import { SOLID_COLOURS } from '../conformance/test-data.js';
import { fixture, tinyModel } from '../../runtimes/workerd/helpers.js';
import {
  classifyRequest,
  expectedSolidScores,
  expectPredictions,
  multipart,
  okJson,
  type Prediction,
} from '../conformance/http.js';

/** A lease on the model of that name, as a request's pipeline takes it (find, then acquire). */
const acquireNamed = async (registry: ModelRegistry, name: string) => registry.acquire(await registry.find(name));

const assetFiles = () => createFetchModelFiles(env.MODELS);

/** The tiny model's logits for an input whose channel c is the constant values[c]. */
function tinyLogits(values: readonly number[], name = 'tiny'): number[] {
  const model = tinyModel(name);
  return Array.from({ length: model.classes }, (_, j) =>
    values.reduce((sum, v, c) => sum + v * model.weights[c * model.classes + j], model.bias[j]),
  );
}

function constantBatch(rows: number[][]): Float32Array {
  const plane = 224 * 224;
  const data = new Float32Array(rows.length * 3 * plane);
  rows.forEach((values, n) => values.forEach((v, c) => data.fill(v, (n * 3 + c) * plane, (n * 3 + c + 1) * plane)));
  return data;
}

describe('onnxruntime-web in workerd', () => {
  // First in the file, so that it is this isolate's first session: a failed first load must not wedge the runtime.
  it('recovers when the isolate’s first load is a corrupt model', async () => {
    const backend = createOrtWebBackend(ortWasm);
    await expect(backend.load(new TextEncoder().encode('not onnx'))).rejects.toThrow();
    const tiny = (await assetFiles().read('tiny.onnx'))!;
    const session = await backend.load(tiny);
    expect(session.inputName).toBe('input');
  });

  it('loads each model once and shares the session', async () => {
    const base = createOrtWebBackend(ortWasm);
    let loads = 0;
    const registry = new ModelRegistry(assetFiles(), { name: base.name, load: (bytes) => (loads++, base.load(bytes)) });
    const [a, b] = await Promise.all([acquireNamed(registry, 'tiny'), acquireNamed(registry, 'tiny')]);
    const c = await acquireNamed(registry, 'tiny');
    expect(b.value).toBe(a.value);
    expect(c.value).toBe(a.value);
    expect(loads).toBe(1);
    expect(registry.isLoaded('tiny')).toBe(true);
    expect(registry.isLoaded('tiny-10')).toBe(false);
    for (const lease of [a, b, c]) lease.release();
  });

  it('does not cache a failed load: a transient read failure is retried by the next request', async () => {
    const real = assetFiles();
    let failuresLeft = 1;
    const flaky: ModelFiles = {
      read: async (name) => {
        if (name === 'tiny.onnx' && failuresLeft-- > 0) throw new Error('connection reset');
        return real.read(name);
      },
    };
    const registry = new ModelRegistry(flaky, createOrtWebBackend(ortWasm));
    await expect(acquireNamed(registry, 'tiny')).rejects.toMatchObject({ code: 'model-unavailable', status: 503 });
    expect(registry.isLoaded('tiny')).toBe(false);
    const lease = await acquireNamed(registry, 'tiny');
    expect(lease.value.classes).toBe(1000);
    lease.release();
  });

  it('with maxLoaded 1, releases the idle session before loading another model, never one still held', async () => {
    const base = createOrtWebBackend(ortWasm);
    const events: string[] = [];
    const backend = {
      name: base.name,
      load: async (bytes: Uint8Array) => {
        const session = await base.load(bytes);
        const classes = (await session.run(constantBatch([[0, 0, 0]]), [1, 3, 224, 224])).dims[1];
        events.push(`load ${classes}`);
        return { ...session, release: () => (events.push(`release ${classes}`), session.release()) };
      },
    };
    const registry = new ModelRegistry(assetFiles(), backend, { maxLoaded: 1 });

    const tiny = await acquireNamed(registry, 'tiny');
    const ten = acquireNamed(registry, 'tiny-10'); // must wait: tiny is held
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(events).toEqual(['load 1000']);
    // Meanwhile the holder's session still runs.
    const out = await tiny.value.session.run(constantBatch([[1, 2, 3]]), [1, 3, 224, 224]);
    const expected = tinyLogits([1, 2, 3]);
    for (let j = 0; j < 1000; j++) expect(Math.abs(out.data[j] - expected[j])).toBeLessThan(1e-4);
    tiny.release();
    const tenLease = await ten;
    expect(events).toEqual(['load 1000', 'release 1000', 'load 10']);
    expect(registry.isLoaded('tiny')).toBe(false);
    expect(registry.isLoaded('tiny-10')).toBe(true);
    expect(tenLease.value.classes).toBe(10);
    tenLease.release();
  });

  it('a multipart batch reaches the session as one call with N = the number of images', async () => {
    const calls: number[][] = [];
    const deps = workerdDeps(env);
    const app = createApp({
      ...deps,
      // Records each call, then runs the real session.
      wrapSession: (session): ModelSession => ({
        ...session,
        run: (input, dims) => {
          calls.push([...dims]);
          return session.run(input, dims);
        },
      }),
    });
    const images = await Promise.all(SOLID_COLOURS.map((colour) => fixture(`generated/${colour.name}.png`)));
    const response = await app.fetch(
      classifyRequest(multipart(images.map((bytes) => ({ bytes }))), { query: 'model=tiny', contentType: null }),
    );
    const body = await okJson<{ results: { predictions: Prediction[] }[] }>(response);
    expect(calls).toEqual([[3, 3, 224, 224]]);
    SOLID_COLOURS.forEach((colour, i) =>
      expectPredictions(body.results[i].predictions, expectedSolidScores(colour.rgb, tinyModel('tiny')), 5),
    );
  });
});
