/**
 * worker/service/registry/residency.ts: the order in which sessions are loaded and released under a capacity. The values are
 * plain objects here; the registry's use of it with real onnxruntime sessions is tested in test/service/registry/registry.workerd.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { LoadTimeoutError, Residency, type Lease } from '../../../worker/service/registry/residency.js';

/** A residency over named values whose loads and unloads are recorded and settle when the test says so. */
function recorded(capacity: number, staleAfterMs?: number) {
  const events: string[] = [];
  const pendingLoads = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  const load = (key: string) =>
    new Promise<{ name: string }>((resolve, reject) => {
      events.push(`load ${key}`);
      pendingLoads.set(key, { resolve: () => resolve({ name: key }), reject });
    });
  const inner = new Residency<{ name: string }>(
    capacity,
    async (value) => {
      events.push(`unload ${value.name}`);
    },
    staleAfterMs,
  );
  // Each acquire brings its key's loader, as the registry's do.
  const residency = {
    acquire: (key: string) => inner.acquire(key, () => load(key)),
    isLoaded: (key: string) => inner.isLoaded(key),
    get occupied() {
      return inner.occupied;
    },
  };
  // Loads start in the loading request's own continuation, a tick after its acquire was granted.
  const finishLoad = async (key: string) => {
    await settle();
    pendingLoads.get(key)!.resolve();
    pendingLoads.delete(key);
    await settle();
  };
  const failLoad = async (key: string, error: Error) => {
    await settle();
    pendingLoads.get(key)!.reject(error);
    pendingLoads.delete(key);
    await settle();
  };
  return { residency, events, finishLoad, failLoad };
}

/** Long enough for waiting acquirers to poll (every 5 ms) and for loads to start. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 25));

/** Tracks whether an acquire has resolved yet. */
function track(promise: Promise<Lease<{ name: string }>>) {
  const state: { lease?: Lease<{ name: string }>; error?: unknown } = {};
  promise.then(
    (lease) => (state.lease = lease),
    (error: unknown) => (state.error = error),
  );
  return state;
}

describe('Residency', () => {
  it('shares one load between concurrent acquirers and never unloads without a capacity', async () => {
    const { residency, events, finishLoad } = recorded(Infinity);
    const a1 = track(residency.acquire('a'));
    const a2 = track(residency.acquire('a'));
    const b = track(residency.acquire('b'));
    await settle();
    expect(events).toEqual(['load a', 'load b']);
    await finishLoad('a');
    await finishLoad('b');
    expect(a1.lease!.value).toBe(a2.lease!.value);
    a1.lease!.release();
    a2.lease!.release();
    b.lease!.release();
    await settle();
    expect(events).toEqual(['load a', 'load b']);
    expect(residency.isLoaded('a') && residency.isLoaded('b')).toBe(true);
  });

  it('at capacity, waits for the held value to be released, unloads it, then loads the next', async () => {
    const { residency, events, finishLoad } = recorded(1);
    const a = track(residency.acquire('a'));
    await finishLoad('a');
    const b = track(residency.acquire('b'));
    await settle();
    expect(b.lease).toBeUndefined();
    expect(events).toEqual(['load a']);

    a.lease!.release();
    await settle();
    expect(events).toEqual(['load a', 'unload a', 'load b']);
    expect(residency.isLoaded('a')).toBe(false);
    await finishLoad('b');
    expect(b.lease!.value.name).toBe('b');
  });

  it('serves waiters in arrival order: a stream of requests for the loaded value cannot starve another', async () => {
    const { residency, events, finishLoad } = recorded(1);
    const a1 = track(residency.acquire('a'));
    await finishLoad('a');
    const b = track(residency.acquire('b'));
    const a2 = track(residency.acquire('a')); // arrives after b: must not jump the queue although a is loaded
    await settle();
    expect(a2.lease).toBeUndefined();

    a1.lease!.release();
    await settle();
    await finishLoad('b');
    expect(b.lease!.value.name).toBe('b');
    expect(a2.lease).toBeUndefined();

    b.lease!.release();
    await settle();
    await finishLoad('a');
    expect(a2.lease!.value.name).toBe('a');
    expect(events).toEqual(['load a', 'unload a', 'load b', 'unload b', 'load a']);
  });

  it('when a value becomes available, everyone queued for it gets it: one switch per turn, not per request', async () => {
    const { residency, events, finishLoad } = recorded(1);
    const a1 = track(residency.acquire('a'));
    await finishLoad('a');
    const b1 = track(residency.acquire('b'));
    const a2 = track(residency.acquire('a'));
    const b2 = track(residency.acquire('b'));
    a1.lease!.release();
    await settle();
    await finishLoad('b');
    expect(b1.lease!.value.name).toBe('b');
    expect(b2.lease!.value).toBe(b1.lease!.value);
    expect(a2.lease).toBeUndefined();
    b1.lease!.release();
    b2.lease!.release();
    await settle();
    await finishLoad('a');
    expect(a2.lease!.value.name).toBe('a');
    expect(events).toEqual(['load a', 'unload a', 'load b', 'unload b', 'load a']);
  });

  it('unloads the least recently used idle value', async () => {
    const { residency, events, finishLoad } = recorded(2);
    const a = track(residency.acquire('a'));
    const b = track(residency.acquire('b'));
    await finishLoad('a');
    await finishLoad('b');
    b.lease!.release();
    a.lease!.release(); // a is now the more recently used
    const c = track(residency.acquire('c'));
    await settle();
    expect(events).toEqual(['load a', 'load b', 'unload b', 'load c']);
    await finishLoad('c');
    expect(c.lease!.value.name).toBe('c');
  });

  it('a failed load rejects everyone waiting on it, keeps nothing, and the next acquire loads again', async () => {
    const { residency, events, finishLoad, failLoad } = recorded(1);
    const first = track(residency.acquire('a'));
    const second = track(residency.acquire('a'));
    const other = track(residency.acquire('b'));
    await settle();
    await failLoad('a', new Error('corrupt model'));
    expect((first.error as Error).message).toBe('corrupt model');
    expect((second.error as Error).message).toBe('corrupt model');
    expect(residency.isLoaded('a')).toBe(false);
    // The failed load freed its place for the next waiter.
    await finishLoad('b');
    expect(other.lease!.value.name).toBe('b');
    other.lease!.release();
    const again = track(residency.acquire('a'));
    await settle();
    await finishLoad('a');
    expect(again.lease!.value.name).toBe('a');
    expect(events).toEqual(['load a', 'load b', 'unload b', 'load a']);
  });

  it('a release is counted once, however often it is called', async () => {
    const { residency, events, finishLoad } = recorded(1);
    const a1 = track(residency.acquire('a'));
    const a2 = track(residency.acquire('a'));
    await finishLoad('a');
    a1.lease!.release();
    a1.lease!.release(); // must not count as a2's release
    const b = track(residency.acquire('b'));
    await settle();
    expect(events).toEqual(['load a']);
    a2.lease!.release();
    await settle();
    expect(events).toEqual(['load a', 'unload a', 'load b']);
    expect(b.lease).toBeUndefined();
  });

  // A request cancelled while holding a lease never releases it (workerd drops its `finally`).
  it('a lease held past staleAfterMs no longer blocks another model: a waiting request unloads it on its own poll', async () => {
    const { residency, events, finishLoad } = recorded(1, 100);
    const abandoned = track(residency.acquire('a'));
    await finishLoad('a');
    expect(abandoned.lease).toBeDefined(); // never released
    const b = track(residency.acquire('b'));
    await new Promise((resolve) => setTimeout(resolve, 200)); // past 100 ms
    expect(events).toEqual(['load a', 'unload a', 'load b']);
    await finishLoad('b');
    expect(b.lease!.value.name).toBe('b');
  });

  it('a load that never settles (its request was cancelled) is given up by those waiting on it', async () => {
    const { residency, events } = recorded(1, 100);
    const stalled = track(residency.acquire('a')); // its load never finishes
    const joiner = track(residency.acquire('a'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(joiner.error).toBeInstanceOf(LoadTimeoutError);
    expect(stalled.lease).toBeUndefined();
    expect(residency.isLoaded('a')).toBe(false);
    // The place is free again: the next request loads afresh.
    track(residency.acquire('a'));
    await settle();
    expect(events).toEqual(['load a', 'load a']);
  });

  it('a stalled load also frees its place for requests waiting for another value', async () => {
    const { residency, events, finishLoad } = recorded(1, 100);
    track(residency.acquire('a')); // its load never finishes
    const b = track(residency.acquire('b'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(events).toEqual(['load a', 'load b']);
    await finishLoad('b');
    expect(b.lease!.value.name).toBe('b');
  });
});
