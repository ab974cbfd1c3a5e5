/** Stage timings of one request, in milliseconds, reported in the JSON body and the Server-Timing header. */
export interface StageTimings {
  /** Waiting for the decode gate: other requests' images decoded first. 0 when uncontended. */
  decode_wait_ms: number;
  decode_ms: number;
  preprocess_ms: number;
  /** From asking for the model to holding it: 0 when it was loaded; a cold or switching request's load or wait. */
  model_wait_ms: number;
  inference_ms: number;
  total_ms: number;
  /** Only on the request whose model load this was (a cold one): reading the file, its sha256 check, session creation. */
  model_read_ms?: number;
  integrity_ms?: number;
  session_ms?: number;
  /** Classify by URL: fetching the image(s), redirects included. */
  fetch_ms?: number;
}

/** A result-cache hit: looking the answer up is all the work done. */
export interface CacheHitTimings {
  cache_ms: number;
  total_ms: number;
}

/** Server-Timing metric names for the stages, in the order they happen; absent stages are left out. */
export const SERVER_TIMING_NAMES: Readonly<Record<keyof StageTimings, string>> = Object.freeze({
  fetch_ms: 'fetch',
  decode_wait_ms: 'decode-wait',
  decode_ms: 'decode',
  preprocess_ms: 'preprocess',
  model_wait_ms: 'model-wait',
  model_read_ms: 'model-read',
  integrity_ms: 'integrity',
  session_ms: 'session',
  inference_ms: 'inference',
  total_ms: 'total',
});

export { type Clock, defaultClock, roundMs } from '../../core/clock.js';
