/**
 * The dynamic batcher on a real onnxruntime-node session running a real ONNX classifier (test/helpers/tiny-model.ts).
 * The session is observed (each call's batch size recorded), never replaced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamicBatcher, QueueFullError, type BatchingOptions } from '../../../worker/service/batching/batcher.js';
import { batchSessionRuns } from '../../../worker/service/batching/session.js';
import { ApiError } from '../../../worker/service/problems.js';
import type { ModelSession } from '../../../worker/core/inference/backend.js';
import { createOrtNodeBackend } from '../../../worker/runtimes/node/inference/ort-node.js';
import { serializeRuns } from '../../../worker/core/inference/serial.js';
import { buildTinyClassifier } from '../../helpers/tiny-model.js';

const SIZE = 224;
const IMAGE = 3 * SIZE * SIZE;
const CLASSES = 1000;

let session: ModelSession;
/** Batch sizes of the calls that reached onnxruntime, in order. */
let calls: number[] = [];
let observed: ModelSession;

/** A distinct image per seed: each channel a different constant, so every image has its own logits. */
function image(seed: number, rows = 1): Float32Array {
  const data = new Float32Array(rows * IMAGE);
  for (let row = 0; row < rows; row++) {
    for (let channel = 0; channel < 3; channel++) {
      const value = Math.sin(seed * 7.1 + row * 3.3 + channel * 1.9) * 2;
      data.fill(value, row * IMAGE + channel * SIZE * SIZE, row * IMAGE + (channel + 1) * SIZE * SIZE);
    }
  }
  return data;
}

async function runAlone(input: Float32Array, rows = 1): Promise<Float32Array> {
  return (await session.run(input, [rows, 3, SIZE, SIZE])).data;
}

function batcher(options: Partial<BatchingOptions>): DynamicBatcher {
  return new DynamicBatcher((input, dims) => observed.run(input, dims), {
    windowMs: 2,
    maxBatch: 16,
    maxQueue: 64,
    ...options,
  });
}

beforeAll(async () => {
  const tiny = buildTinyClassifier({ classes: CLASSES, seed: 3 });
  session = await createOrtNodeBackend({ device: 'cpu', threads: 1 }).load(tiny.onnx);
  // The registry hands the batcher a serialized session; do the same, and record what reaches onnxruntime.
  const serialized = serializeRuns(session);
  observed = {
    ...serialized,
    run(input, dims) {
      calls.push(dims[0]);
      return serialized.run(input, dims);
    },
  };
});

afterAll(async () => {
  await session?.release();
});

describe('DynamicBatcher', () => {
  it('runs concurrent requests as one batch and gives each request the rows of its own image', async () => {
    calls = [];
    const queue = batcher({ windowMs: 50, maxBatch: 16 });
    const inputs = Array.from({ length: 6 }, (_, i) => image(i + 1));
    const results = await Promise.all(inputs.map((input) => queue.submit(input, [1, 3, SIZE, SIZE])));
    expect(calls).toEqual([6]);

    for (const [i, input] of inputs.entries()) {
      const alone = await runAlone(input);
      expect(results[i].dims).toEqual([1, CLASSES]);
      expect(results[i].data.length).toBe(CLASSES);
      for (let j = 0; j < CLASSES; j++) expect(results[i].data[j]).toBeCloseTo(alone[j], 4);
    }
    // The images really differ, so a mix-up of rows could not go unnoticed.
    expect(results[0].data[0]).not.toBeCloseTo(results[1].data[0], 2);
    expect(queue.stats()).toMatchObject({ batches: 1, images: 6, largestBatch: 6, queued: 0, rejected: 0 });
  });

  it('splits a burst into batches of at most maxBatch images, in arrival order', async () => {
    calls = [];
    const queue = batcher({ windowMs: 1000, maxBatch: 4 });
    const inputs = Array.from({ length: 10 }, (_, i) => image(100 + i));
    // A full batch does not wait for the (long) window.
    const results = await Promise.all(inputs.map((input) => queue.submit(input, [1, 3, SIZE, SIZE])));
    expect(calls).toEqual([4, 4, 2]);
    for (const [i, input] of inputs.entries()) {
      const alone = await runAlone(input);
      for (let j = 0; j < CLASSES; j += 97) expect(results[i].data[j]).toBeCloseTo(alone[j], 4);
    }
  });

  it('keeps a multi-image request together and returns its rows in order', async () => {
    calls = [];
    const queue = batcher({ windowMs: 50, maxBatch: 8 });
    const single = image(7);
    const triple = image(8, 3);
    const [a, b] = await Promise.all([
      queue.submit(single, [1, 3, SIZE, SIZE]),
      queue.submit(triple, [3, 3, SIZE, SIZE]),
    ]);
    expect(calls).toEqual([4]);
    expect(b.dims).toEqual([3, CLASSES]);
    const tripleAlone = await runAlone(triple, 3);
    const singleAlone = await runAlone(single);
    for (let j = 0; j < 3 * CLASSES; j += 97) expect(b.data[j]).toBeCloseTo(tripleAlone[j], 4);
    for (let j = 0; j < CLASSES; j += 97) expect(a.data[j]).toBeCloseTo(singleAlone[j], 4);
  });

  it('runs a request with more images than maxBatch on its own', async () => {
    calls = [];
    const queue = batcher({ windowMs: 50, maxBatch: 2 });
    const big = image(9, 5);
    const small = image(10);
    const [bigResult, smallResult] = await Promise.all([
      queue.submit(big, [5, 3, SIZE, SIZE]),
      queue.submit(small, [1, 3, SIZE, SIZE]),
    ]);
    expect(calls).toEqual([5, 1]);
    expect(bigResult.dims).toEqual([5, CLASSES]);
    expect(smallResult.dims).toEqual([1, CLASSES]);
  });

  it('refuses requests beyond maxQueue and still answers the queued ones', async () => {
    calls = [];
    const queue = batcher({ windowMs: 300, maxBatch: 8, maxQueue: 2 });
    const first = queue.submit(image(11), [1, 3, SIZE, SIZE]);
    const second = queue.submit(image(12), [1, 3, SIZE, SIZE]);
    const refused = queue.submit(image(13), [1, 3, SIZE, SIZE]);
    await expect(refused).rejects.toBeInstanceOf(QueueFullError);
    await expect(refused).rejects.toMatchObject({ queued: 2, limit: 2 });
    const results = await Promise.all([first, second]);
    expect(results.map((result) => result.dims)).toEqual([
      [1, CLASSES],
      [1, CLASSES],
    ]);
    expect(calls).toEqual([2]);
    expect(queue.stats()).toMatchObject({ rejected: 1, queued: 0 });
    // Room again once the queue drained.
    await expect(queue.submit(image(14), [1, 3, SIZE, SIZE])).resolves.toMatchObject({ dims: [1, CLASSES] });
  });

  it('batches only requests of the same item shape, in arrival order; a failing batch fails its own requests only', async () => {
    calls = [];
    const queue = batcher({ windowMs: 50, maxBatch: 8 });
    const wrong = new Float32Array(3 * 32 * 32);
    const results = await Promise.allSettled([
      queue.submit(image(15), [1, 3, SIZE, SIZE]),
      queue.submit(wrong, [1, 3, 32, 32]),
      queue.submit(wrong, [1, 3, 32, 32]),
      queue.submit(image(16), [1, 3, SIZE, SIZE]),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    // onnxruntime itself rejected the 32×32 batch (the model's input is 224×224).
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/dimension/i);
    // A request of another shape ends the batch: nothing is reordered.
    expect(calls).toEqual([1, 2, 1]);
    await expect(queue.submit(image(17), [1, 3, SIZE, SIZE])).resolves.toMatchObject({ dims: [1, CLASSES] });
  });

  it('rejects an input whose length does not match its dims, without queuing it', async () => {
    calls = [];
    const queue = batcher({});
    await expect(queue.submit(new Float32Array(10), [1, 3, SIZE, SIZE])).rejects.toBeInstanceOf(RangeError);
    await expect(queue.submit(new Float32Array(0), [0, 3, SIZE, SIZE])).rejects.toBeInstanceOf(RangeError);
    expect(calls).toEqual([]);
    expect(queue.stats().queued).toBe(0);
  });

  it('refuses nonsensical options', () => {
    const run = (input: Float32Array, dims: readonly number[]) => observed.run(input, dims);
    expect(() => new DynamicBatcher(run, { windowMs: -1, maxBatch: 4, maxQueue: 4 })).toThrow(RangeError);
    expect(() => new DynamicBatcher(run, { windowMs: 2, maxBatch: 0, maxQueue: 4 })).toThrow(RangeError);
    expect(() => new DynamicBatcher(run, { windowMs: 2, maxBatch: 4, maxQueue: 1.5 })).toThrow(RangeError);
  });
});

describe('batchSessionRuns', () => {
  it('turns a full queue into a 503 overloaded problem with Retry-After', async () => {
    const batched = batchSessionRuns(observed, { windowMs: 300, maxBatch: 8, maxQueue: 1 }, 'tiny');
    const first = batched.run(image(20), [1, 3, SIZE, SIZE]);
    const error = await batched.run(image(21), [1, 3, SIZE, SIZE]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    const problem = error as ApiError;
    expect(problem.status).toBe(503);
    expect(problem.toProblem()).toMatchObject({ code: 'overloaded', model: 'tiny', limit: 1, queued: 1 });
    expect(Number(problem.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
    await expect(first).resolves.toMatchObject({ dims: [1, CLASSES] });
    expect(batched.stats()).toMatchObject({ batches: 1, images: 1, rejected: 1 });
  });

  it('release waits for queued work before releasing the session', async () => {
    const tiny = buildTinyClassifier({ classes: 10, seed: 4 });
    const own = await createOrtNodeBackend({ device: 'cpu', threads: 1 }).load(tiny.onnx);
    const batched = batchSessionRuns(own, { windowMs: 100, maxBatch: 8, maxQueue: 8 }, 'tiny-10');
    const pending = batched.run(image(22), [1, 3, SIZE, SIZE]);
    const released = batched.release();
    await expect(pending).resolves.toMatchObject({ dims: [1, 10] });
    await released;
  });
});
