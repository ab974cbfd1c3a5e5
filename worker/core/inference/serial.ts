import type { ModelSession } from './backend.js';

/**
 * Queues a session's runs so that concurrent requests never call into one session at the same time. onnxruntime's
 * wasm build runs one call at a time on one thread anyway, so queuing costs no throughput and rules out re-entrancy.
 */
export function serializeRuns(session: ModelSession): ModelSession {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    inputName: session.inputName,
    outputName: session.outputName,
    run(input, dims) {
      const result = tail.then(() => session.run(input, dims));
      // The next run waits for this one to settle, whether it succeeded or not.
      tail = result.catch(() => undefined);
      return result;
    },
    release: () => tail.then(() => session.release()),
  };
}
