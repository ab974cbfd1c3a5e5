/** A task's outcome as an answer's `timing` and the Server-Timing header. */
import type { Context } from 'hono';
import { setMetric } from 'hono/timing';
import { type Clock, roundMs, SERVER_TIMING_NAMES, type StageTimings } from '../http/timing.js';
import type { TaskOutcome } from './run.js';

export function roundTimings<T extends object>(timings: T): T {
  return Object.fromEntries(Object.entries(timings).map(([key, ms]) => [key, roundMs(ms as number)])) as T;
}

export function serverTiming(c: Context, timings: StageTimings): void {
  for (const [stage, name] of Object.entries(SERVER_TIMING_NAMES) as [keyof StageTimings, string][]) {
    const ms = timings[stage];
    if (ms !== undefined) setMetric(c, name, ms, undefined, 2);
  }
}

/**
 * The request's stages: decode and preprocess summed over its images, the one batched session call, the fetch (by
 * URL), the total from `started` to the end of the run (the task's postprocessing, e.g. a demo crop's PNG, is not
 * classifying), and the model load's stages on the request that loaded it.
 */
export function requestTimings(
  outcome: TaskOutcome,
  request: { started: number; fetchMs?: number; clock: Clock },
): StageTimings {
  const sum = (stage: 'decode_wait_ms' | 'decode_ms' | 'preprocess_ms') =>
    outcome.images.reduce((total, image) => total + (image.ok ? image.timing[stage] : 0), 0);
  return roundTimings<StageTimings>({
    decode_wait_ms: sum('decode_wait_ms'),
    decode_ms: sum('decode_ms'),
    preprocess_ms: sum('preprocess_ms'),
    model_wait_ms: outcome.model_wait_ms,
    inference_ms: outcome.inference_ms,
    ...(request.fetchMs !== undefined ? { fetch_ms: request.fetchMs } : {}),
    total_ms: outcome.ranAt - request.started,
    ...outcome.load,
  });
}
