/**
 * One image decoding at a time per instance. A decode holds its working set (up to the decode budget) until the
 * preprocessing has consumed the pixels, and decodes can interleave (PNG inflates asynchronously), so concurrent
 * requests in one isolate would each hold one at once. A Worker's JavaScript runs on one thread anyway, so waiting
 * costs no throughput, only up to POLL_MS per hand-over.
 *
 * Waiters poll with timers of their own instead of being resumed by the request that releases the gate, because in
 * workerd (measured, test/core/model-input/decode-budget.workerd.test.ts) neither way of resuming them works: with a promise chain (as
 * inference/serial.ts queues session runs) the next request's decode ran as part of the releasing request, and its
 * I/O (PNG's DecompressionStream) failed "on behalf of a different request"; a resolver created by the waiter and
 * called by the releaser did not resume the waiter before its own next timer fired.
 */
export type DecodeGate = <T>(work: () => Promise<T>) => Promise<T>;

/** How often a waiting image checks the gate: the most a release can go unnoticed. */
export const POLL_MS = 2;

/**
 * A decode that holds the gate longer than this is taken to be abandoned — its request was cancelled (the client
 * went away), so its release will never run — and the next image goes ahead. A 16 MP decode takes ~1 s.
 */
export const MAX_HOLD_MS = 30_000;

export function createDecodeGate(maxHoldMs = MAX_HOLD_MS): DecodeGate {
  let holder: object | undefined;
  let heldSince = 0;

  async function acquire(): Promise<object> {
    while (holder && Date.now() - heldSince < maxHoldMs) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    const token = {};
    holder = token;
    heldSince = Date.now();
    return token;
  }

  return async (work) => {
    const token = await acquire();
    try {
      return await work();
    } finally {
      if (holder === token) holder = undefined; // unless taken over meanwhile
    }
  };
}
