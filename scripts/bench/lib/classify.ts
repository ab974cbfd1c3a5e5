/** One classify request to a running edge worker, end to end at the client, as the edge benchmarks send it. */
import { createClient } from '../../../worker/client/index.js';

/** The response's `timing` (docs/api.md); the cold stages only on the request that loaded the model. */
export interface WorkerTiming {
  decode_ms: number;
  preprocess_ms: number;
  inference_ms: number;
  total_ms: number;
  model_wait_ms?: number;
  session_ms?: number;
}

export interface Classified {
  e2eMs: number;
  timing: WorkerTiming;
  top1: number;
}

const REQUEST_TIMEOUT_MS = 120_000;

export async function classify(url: URL, model: string, body: Uint8Array): Promise<Classified> {
  const started = performance.now();
  // Through the typed client, as an API user would; a problem answer throws ApiProblemError (status, code, detail).
  const result = await createClient({ baseUrl: url.origin }).classify(new Blob([body], { type: 'image/jpeg' }), {
    model,
    topK: 1,
    // The same image is sent again and again: without this the result cache answers and nothing is measured.
    headers: { 'cache-control': 'no-store' },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const e2eMs = performance.now() - started;
  return { e2eMs, timing: result.timing as unknown as WorkerTiming, top1: result.predictions[0].index };
}
