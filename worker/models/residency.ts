/**
 * At most `capacity` values (inference sessions) alive at once, each shared by every request that holds a lease on it.
 * When a request needs one that is not loaded and all places are taken, the least recently used value that no
 * request holds is unloaded first, and the new one is loaded only after that finished: onnxruntime-web's wasm memory
 * never shrinks, so two sessions alive at once would raise its high-water mark for good.
 *
 * Requests wait in arrival order once one has to wait, so a steady stream for a loaded model cannot starve a request
 * for another; when the first in line gets its value, everyone queued for the same value gets it too. A failed load
 * is not kept: the requests waiting on it get its error and the next one tries again.
 */

export interface Lease<T> {
  readonly value: T;
  /** Ends this holder's use. Idempotent. */
  release(): void;
}

interface Slot<T> {
  readonly key: string;
  value?: T;
  loading?: Promise<T>;
  /** Leases out, including requests waiting for the load to finish. */
  holders: number;
  lastUsed: number;
}

interface Waiter<T> {
  key: string;
  resolve(lease: Lease<T>): void;
  reject(error: unknown): void;
}

export class Residency<T> {
  private readonly slots = new Map<string, Slot<T>>();
  private readonly queue: Waiter<T>[] = [];
  /** Values being unloaded still occupy their place until their memory is back. */
  private unloading = 0;
  private clock = 0;

  constructor(
    private readonly capacity: number,
    private readonly load: (key: string) => Promise<T>,
    private readonly unload: (value: T, key: string) => Promise<void>,
  ) {
    if (!(capacity >= 1)) throw new RangeError(`capacity must be at least 1, got ${capacity}`);
  }

  acquire(key: string): Promise<Lease<T>> {
    return new Promise((resolve, reject) => {
      this.queue.push({ key, resolve, reject });
      this.pump();
    });
  }

  /** Loaded and not being unloaded. */
  isLoaded(key: string): boolean {
    return this.slots.get(key)?.value !== undefined;
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const { key } = this.queue[0];
      const slot = this.slots.get(key) ?? (this.slots.size + this.unloading < this.capacity ? this.startLoad(key) : undefined);
      if (slot) {
        // Everyone queued for this value joins now, so mixed traffic switches values once per turn, not per request.
        for (const waiter of this.takeWaiters(key)) this.join(slot, waiter);
        continue;
      }
      // Full: free one place (or wait for the one being freed); the unload's end, or the next release, pumps again.
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

  private join(slot: Slot<T>, waiter: Waiter<T>): void {
    slot.holders++;
    slot.lastUsed = ++this.clock;
    if (slot.value !== undefined) {
      waiter.resolve(this.lease(slot, slot.value));
      return;
    }
    slot.loading!.then(
      (value) => waiter.resolve(this.lease(slot, value)),
      (error: unknown) => {
        slot.holders--;
        waiter.reject(error);
      },
    );
  }

  private startLoad(key: string): Slot<T> {
    const slot: Slot<T> = { key, holders: 0, lastUsed: ++this.clock };
    slot.loading = this.load(key);
    this.slots.set(key, slot);
    slot.loading.then(
      (value) => {
        slot.value = value;
        slot.loading = undefined;
      },
      () => {
        this.slots.delete(key);
        this.pump();
      },
    );
    return slot;
  }

  /** Starts unloading the least recently used value nobody holds, if there is one. */
  private unloadIdle(): void {
    let victim: Slot<T> | undefined;
    for (const slot of this.slots.values()) {
      if (slot.holders === 0 && slot.value !== undefined && (!victim || slot.lastUsed < victim.lastUsed)) victim = slot;
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

  private lease(slot: Slot<T>, value: T): Lease<T> {
    let released = false;
    return {
      value,
      release: () => {
        if (released) return;
        released = true;
        slot.holders--;
        slot.lastUsed = ++this.clock;
        if (slot.holders === 0) this.pump();
      },
    };
  }
}
