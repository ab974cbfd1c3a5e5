/**
 * A ModelSession whose runs go through a DynamicBatcher. The app wraps each loaded model's (serialized) session with
 * it, so concurrent requests share inference calls while the session itself still sees one call at a time.
 */
import { ApiError } from '../problems.js';
import type { ModelSession } from '../../core/inference/backend.js';
import { DynamicBatcher, QueueFullError, type BatchingOptions, type BatchStats } from './batcher.js';

export interface BatchedSession extends ModelSession {
  stats(): BatchStats;
}

/** A full queue is a temporary overload: 503 with Retry-After, as RFC 9110 §15.6.4 describes. */
function overloaded(error: QueueFullError, model: string): ApiError {
  return new ApiError('overloaded', `${error.message}; retry after ${error.retryAfterSeconds} s`, {
    headers: { 'Retry-After': String(error.retryAfterSeconds) },
    details: { model, queued: error.queued, limit: error.limit },
    cause: error,
  });
}

export function batchSessionRuns(session: ModelSession, options: BatchingOptions, model: string): BatchedSession {
  const batcher = new DynamicBatcher((input, dims) => session.run(input, dims), options);
  return {
    inputName: session.inputName,
    outputName: session.outputName,
    run: (input, dims) =>
      batcher.submit(input, dims).catch((error: unknown) => {
        throw error instanceof QueueFullError ? overloaded(error, model) : error;
      }),
    stats: () => batcher.stats(),
    release: () => batcher.idle().then(() => session.release()),
  };
}
