/**
 * At most `capacity` values (inference sessions) alive at once, each shared by every request that holds a lease on it.
 * When a request needs one that is not loaded and all places are taken, the least recently used value that no
 * request holds is unloaded first, and the new one is loaded only after that finished: onnxruntime-web's wasm memory
 * never shrinks, so two sessions alive at once would raise its high-water mark for good.
 *
 * Requests wait in arrival order once one has to wait, so a steady stream for a loaded model cannot starve a request
 * for another; when the first in line gets its value, everyone queued for the same value gets it too. A failed load
 * is not kept: the requests waiting on it get its error and the next one tries again.
 *
 * workerd ties I/O to the request that started it: one request may not settle a promise another request created
 * ("Cannot perform I/O on behalf of a different request"), nor wait on a promise no I/O of its own will settle (it is
 * cancelled as hung); and a request cancelled because its client went away never runs its `finally` blocks. So:
 * - waiting is polling: a waiting request checks the shared state on timers of its own, and nothing is handed
 *   across requests but plain data;
 * - a value is always loaded by a request that needs it, in its own handler, never by whichever request happened to
 *   free the place;
 * - a load or a lease older than `staleAfterMs` is presumed abandoned: waiters stop waiting for such a load
 *   (LoadTimeoutError), and such leases no longer keep their value from being unloaded, so an abandoned lease cannot
 *   wedge the isolate.
 */

export interface Lease<T> {
  readonly value: T;
  /** Ends this holder's use. Idempotent. */
  release(): void;
}

export class LoadTimeoutError extends Error {
  override readonly name = 'LoadTimeoutError';
}

interface Slot<T> {
  readonly key: string;
  value?: T;
  /** While loading: the waiters that joined the load, each settled when it ends. */
  joiners?: Waiter<T>[];
  loadStarted: number;
  /** When each outstanding lease (the loader's and the joiners' included) was taken. */
  readonly leases: Set<{ since: number }>;
  lastUsed: number;
}

/** What a waiter is handed: a lease, or the task of loading the value itself. */
type Grant<T> = { lease: Lease<T> } | { load: Slot<T> };

/** A waiting request; pump() fills in `grant` or `error`, the request picks it up on its next poll. */
interface Waiter<T> {
  readonly key: string;
  grant?: Grant<T>;
  error?: { cause: unknown };
}

/** A request holding a model longer than this has been cancelled (a 16 MP batch takes seconds, not a minute). */
export const STALE_AFTER_MS = 60_000;
/** How often a waiting request polls: loads and switches take hundreds of milliseconds. */
const POLL_MS = 5;

export class Residency<T> {
  private readonly slots = new Map<string, Slot<T>>();
  private readonly queue: Waiter<T>[] = [];
  /** Values being unloaded still occupy their place until their memory is back. */
  private unloading = 0;
  private clock = 0;

  constructor(
    private readonly capacity: number,
    private readonly unload: (value: T, key: string) => Promise<void>,
    private readonly staleAfterMs = STALE_AFTER_MS,
  ) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be at least 1, got ${capacity}`);
  }

  /** `load` creates the value when this call is the one that loads it. */
  async acquire(key: string, load: () => Promise<T>): Promise<Lease<T>> {
    const waiter: Waiter<T> = { key };
    this.queue.push(waiter);
    this.pump();
    while (!waiter.grant && !waiter.error) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      this.recheck(waiter);
    }
    if (waiter.error) throw waiter.error.cause;
    const grant = waiter.grant!;
    if ('lease' in grant) return grant.lease;

    // This request loads the value, in its own handler.
    const slot = grant.load;
    let value: T;
    try {
      value = await load();
    } catch (error) {
      this.failLoad(slot, error);
      throw error;
    }
    return this.finishLoad(slot, value);
  }

  /** Keys loaded or loading (each holds, or will hold, a session). */
  get occupied(): number {
    return this.slots.size;
  }

  /** Loaded and not being unloaded. */
  isLoaded(key: string): boolean {
    return this.slots.get(key)?.value !== undefined;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const { key } = this.queue[0];
      let slot = this.slots.get(key);
      if (!slot && this.slots.size + this.unloading < this.capacity) {
        slot = { key, joiners: [], loadStarted: Date.now(), leases: new Set(), lastUsed: 0 };
        this.slots.set(key, slot);
        const loader = this.queue.shift()!;
        loader.grant = { load: slot };
        this.hold(slot); // the loader's lease, handed out by finishLoad
      }
      if (slot) {
        // Everyone queued for this value joins now, so mixed traffic switches values once per turn, not per request.
        for (const waiter of this.takeWaiters(key)) {
          if (slot.value !== undefined) waiter.grant = { lease: this.lease(slot, this.hold(slot)) };
          else slot.joiners!.push(waiter);
        }
        continue;
      }
      // Full: free one place (or wait for the one being freed); the unload's end, a release, or a waiter's recheck
      // pumps again.
      if (this.unloading === 0) this.unloadIdle();
      return;
    }
  }

  private takeWaiters(key: string): Waiter<T>[] {
    const taken = this.queue.filter((waiter) => waiter.key === key);
    const rest = this.queue.filter((waiter) => waiter.key !== key);
    this.queue.splice(0, this.queue.length, ...rest);
    return taken;
  }

  private hold(slot: Slot<T>): { since: number } {
    const entry = { since: Date.now() };
    slot.leases.add(entry);
    slot.lastUsed = ++this.clock;
    return entry;
  }

  private finishLoad(slot: Slot<T>, value: T): Lease<T> {
    const joiners = slot.joiners ?? [];
    slot.joiners = undefined;
    if (this.slots.get(slot.key) !== slot) {
      // Given up on while loading (its waiters were told so): the loader uses it alone and then drops it.
      return { value, release: () => void this.unload(value, slot.key).catch(() => undefined) };
    }
    slot.value = value;
    const [loaderLease] = slot.leases;
    for (const joiner of joiners) joiner.grant = { lease: this.lease(slot, this.hold(slot)) };
    return this.lease(slot, loaderLease);
  }

  private failLoad(slot: Slot<T>, error: unknown): void {
    const joiners = slot.joiners ?? [];
    slot.joiners = undefined;
    if (this.slots.get(slot.key) === slot) this.slots.delete(slot.key);
    for (const joiner of joiners) joiner.error = { cause: error };
    this.pump();
  }

  /**
   * On a waiting request's own timer: give up stalled loads (their place is freed, whoever waits on them gets
   * LoadTimeoutError), and retry what stale leases blocked.
   */
  private recheck(_waiter: Waiter<T>): void {
    const now = Date.now();
    for (const slot of [...this.slots.values()]) {
      if (!slot.joiners || now - slot.loadStarted < this.staleAfterMs) continue;
      this.slots.delete(slot.key);
      const joiners = slot.joiners;
      slot.joiners = undefined;
      const error = new LoadTimeoutError(`loading ${slot.key} did not finish within ${this.staleAfterMs} ms`);
      for (const joiner of joiners) joiner.error = { cause: error };
    }
    this.pump();
  }

  /** Starts unloading the least recently used value that no live lease holds, if there is one. */
  private unloadIdle(): void {
    const now = Date.now();
    const idle = (slot: Slot<T>) => [...slot.leases].every((lease) => now - lease.since >= this.staleAfterMs);
    let victim: Slot<T> | undefined;
    for (const slot of this.slots.values()) {
      if (slot.value !== undefined && idle(slot) && (!victim || slot.lastUsed < victim.lastUsed)) victim = slot;
    }
    if (!victim) return;
    this.slots.delete(victim.key);
    this.unloading++;
    const done = () => {
      this.unloading--;
      this.pump();
    };
    // A failed release still ends the slot: the value is unusable either way.
    const { key, value } = victim;
    Promise.resolve()
      .then(() => this.unload(value!, key))
      .then(done, done);
  }

  private lease(slot: Slot<T>, entry: { since: number }): Lease<T> {
    let released = false;
    return {
      value: slot.value!,
      release: () => {
        if (released) return;
        released = true;
        slot.leases.delete(entry);
        slot.lastUsed = ++this.clock;
        if (slot.leases.size === 0) this.pump();
      },
    };
  }
}
