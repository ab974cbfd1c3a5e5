/**
 * What only workerd shows about a request's stages: the timings in the body and in Server-Timing, and the model-load
 * stages on the request that loaded the model (a fresh app in this isolate). The routes themselves run on both
 * runtimes: test/service/conformance/service.cases.ts.
 */
import { describe, expect, it } from 'vitest';
import { CRIMSON, classifyRequest, okJson, type Prediction } from './conformance/http.js';
import { appWith } from '../runtimes/workerd/app-with.js';
import { fixture, worker } from '../runtimes/workerd/helpers.js';

interface ClassifyBody {
  model: string;
  predictions: Prediction[];
  timing: Record<string, number>;
}

describe('POST /v1/classify stage timings', () => {
  it('runs onnxruntime-web', async () => {
    const models = (await (await worker(new Request('http://edge.test/v1/models'))).json()) as { backend: string };
    expect(models.backend).toBe('onnxruntime-web/wasm');
  });

  /** Server-Timing's metrics by name. */
  const serverTimings = (response: Response) =>
    Object.fromEntries(
      (response.headers.get('server-timing') ?? '').split(',').map((metric) => {
        const [name, duration] = metric.trim().split(';dur=');
        return [name, Number(duration)];
      }),
    );

  it('reports stage timings in the body and the Server-Timing header', async () => {
    // The shared worker has loaded the model by now (earlier tests): a warm request reports no load stages.
    // no-store: computed, not answered by the result cache.
    const noStore = { headers: { 'cache-control': 'no-store' } };
    await worker(classifyRequest(await fixture(`generated/${CRIMSON.name}.png`), noStore));
    const response = await worker(classifyRequest(await fixture(`generated/${CRIMSON.name}.png`), noStore));
    const body = await okJson<ClassifyBody>(response);
    expect(Object.keys(body.timing).sort()).toEqual([
      'decode_ms',
      'decode_wait_ms',
      'inference_ms',
      'model_wait_ms',
      'preprocess_ms',
      'total_ms',
    ]);
    for (const ms of Object.values(body.timing)) expect(ms).toBeGreaterThanOrEqual(0);
    const { decode_wait_ms, decode_ms, preprocess_ms, model_wait_ms, inference_ms, total_ms } = body.timing;
    expect(total_ms).toBeGreaterThanOrEqual(
      decode_wait_ms + decode_ms + preprocess_ms + model_wait_ms + inference_ms - 0.05,
    );
    expect(serverTimings(response)).toEqual({
      'decode-wait': decode_wait_ms,
      decode: decode_ms,
      preprocess: preprocess_ms,
      'model-wait': model_wait_ms,
      inference: inference_ms,
      total: total_ms,
    });
  });

  it('reports the model load stages on the request that loaded it, and only on that one', async () => {
    const fresh = appWith({ resultCache: false }); // a new registry: its first request loads the model
    const cold = await fresh(classifyRequest(await fixture(`generated/${CRIMSON.name}.png`)));
    const coldBody = await okJson<ClassifyBody>(cold);
    expect(Object.keys(coldBody.timing)).toEqual(
      expect.arrayContaining(['model_read_ms', 'integrity_ms', 'session_ms', 'model_wait_ms']),
    );
    const { model_read_ms, integrity_ms, session_ms, model_wait_ms } = coldBody.timing;
    // The load starts on arrival, overlapping the upload and decode: model_wait is what is left of it, the load's own
    // stages all fall within the request.
    expect(model_wait_ms).toBeGreaterThanOrEqual(0);
    expect(coldBody.timing.total_ms).toBeGreaterThanOrEqual(model_read_ms + integrity_ms + session_ms - 0.05);
    expect(serverTimings(cold)).toMatchObject({
      'model-read': model_read_ms,
      integrity: integrity_ms,
      session: session_ms,
    });

    const warm = await okJson<ClassifyBody>(
      await fresh(classifyRequest(await fixture(`generated/${CRIMSON.name}.png`))),
    );
    expect(Object.keys(warm.timing)).not.toContain('session_ms');
    expect(warm.predictions).toEqual(coldBody.predictions);
  });
});
