/**
 * The decode gate: one image's decode + preprocess at a time per instance, a failed one releases it for the next,
 * and one whose request was cancelled (it never settles) is taken over after MAX_HOLD_MS. (That waiters run in their
 * own request's context is workerd's part: test/core/model-input/decode-budget.workerd.test.ts sends concurrent requests whose PNG
 * decodes do I/O.)
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDecodeGate, MAX_HOLD_MS } from '../../../worker/core/model-input/decode-gate.js';

/** A promise settled from outside, to hold work inside the gate. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('createDecodeGate', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs one piece of work at a time, and returns each one its own result', async () => {
    const gate = createDecodeGate();
    const events: string[] = [];
    const holds = [deferred(), deferred(), deferred()];
    const results = holds.map((hold, i) =>
      gate(async () => {
        events.push(`start ${i}`);
        await hold.promise;
        events.push(`end ${i}`);
        return i * 10;
      }),
    );
    await turn();
    expect(events).toEqual(['start 0']);
    holds[2].resolve(); // finishing out of order changes nothing: 2 has not started
    holds[1].resolve();
    await turn();
    expect(events).toEqual(['start 0']);
    holds[0].resolve();
    expect(await Promise.all(results)).toEqual([0, 10, 20]);
    expect(events).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
  });

  it('a piece of work that fails (rejecting or throwing) passes its error on and releases the gate', async () => {
    const gate = createDecodeGate();
    const rejected = gate(async () => {
      await turn();
      throw new Error('corrupt');
    });
    const thrown = gate(() => {
      throw new Error('thrown synchronously');
    });
    const next = gate(async () => 'next ran');
    await expect(rejected).rejects.toThrow('corrupt');
    await expect(thrown).rejects.toThrow('thrown synchronously');
    expect(await next).toBe('next ran');
  });

  it('work that never settles (its request was cancelled) holds the gate for MAX_HOLD_MS, then the next goes ahead', async () => {
    vi.useFakeTimers();
    const gate = createDecodeGate();
    const events: string[] = [];
    void gate(() => new Promise<never>(() => events.push('abandoned started')));
    const next = gate(async () => {
      events.push('next started');
      return 'next ran';
    });
    await vi.advanceTimersByTimeAsync(MAX_HOLD_MS - 1);
    expect(events).toEqual(['abandoned started']);
    await vi.advanceTimersByTimeAsync(1);
    expect(await next).toBe('next ran');
    // The gate works normally afterwards.
    expect(await gate(async () => 'after')).toBe('after');
  });
});
