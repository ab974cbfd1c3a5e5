/** Stage timings of one request (worker/api/timing.ts), as the answers' `timing` and the Server-Timing header. */
import { STAGES, type Timing } from '../../api/timing.js';

export type StageTimings = Timing;

/** A result-cache hit: looking the answer up is all the work done. */
export type CacheHitTimings = Required<Pick<Timing, 'cache_ms' | 'total_ms'>>;

/** Server-Timing metric names for the stages, in the order they happen; absent stages are left out. */
export const SERVER_TIMING_NAMES = STAGES;

export { type Clock, defaultClock, roundMs } from '../../core/clock.js';
