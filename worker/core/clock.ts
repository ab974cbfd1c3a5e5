/** Milliseconds from an arbitrary origin; injected so that tests and runtimes choose the source. */
export type Clock = () => number;

/** performance.now where the runtime has it. Workers advance it only across I/O, so CPU-only stages may read 0. */
export const defaultClock: Clock = () => performance.now();

/** Milliseconds with 0.01 ms resolution: enough for latency, and no false precision in the JSON. */
export function roundMs(ms: number): number {
  return Math.round(ms * 100) / 100;
}
