/** The Node server's inference thread: real onnxruntime-node sessions in a worker thread, on a real ONNX model. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrtNodeBackend } from '../../../worker/runtimes/node/inference/ort-node.js';
import { createThreadedOrtNodeBackend, type ThreadedBackend } from '../../../worker/runtimes/node/threaded-backend.js';
import { buildTinyClassifier } from '../../helpers/tiny-model.js';

const IMAGE = 3 * 224 * 224;
const tiny = buildTinyClassifier({ classes: 1000, seed: 5 });
let backend: ThreadedBackend;

const input = (seed: number, rows = 1) =>
  Float32Array.from({ length: rows * IMAGE }, (_, i) => Math.sin(seed + i * 0.001));

beforeAll(async () => {
  backend = await createThreadedOrtNodeBackend({ device: 'cpu', threads: 1 });
});

afterAll(async () => {
  await backend?.terminate();
});

describe('createThreadedOrtNodeBackend', () => {
  it('gives exactly what onnxruntime-node gives on the calling thread', async () => {
    const direct = await createOrtNodeBackend({ device: 'cpu', threads: 1 }).load(tiny.onnx);
    const threaded = await backend.load(tiny.onnx);
    expect(backend.name).toBe('onnxruntime-node/cpu');
    expect([threaded.inputName, threaded.outputName]).toEqual(['input', 'logits']);
    const x = input(1, 2);
    const expected = await direct.run(x, [2, 3, 224, 224]);
    const actual = await threaded.run(x, [2, 3, 224, 224]);
    expect(actual.dims).toEqual([2, 1000]);
    expect(Array.from(actual.data)).toEqual(Array.from(expected.data));
    // The caller's input is untouched (the thread got a copy).
    expect(x[5]).toBe(Math.fround(Math.sin(1 + 5 * 0.001)));
    await direct.release();
    await threaded.release();
  });

  it('answers concurrent runs each with its own output', async () => {
    const session = await backend.load(tiny.onnx);
    const inputs = [1, 2, 3, 4].map((seed) => input(seed * 10));
    const outputs = await Promise.all(inputs.map((x) => session.run(x, [1, 3, 224, 224])));
    const alone = [];
    for (const x of inputs) alone.push(await session.run(x, [1, 3, 224, 224]));
    expect(outputs.map((o) => Array.from(o.data.subarray(0, 8)))).toEqual(
      alone.map((o) => Array.from(o.data.subarray(0, 8))),
    );
    expect(outputs[0].data[0]).not.toBe(outputs[1].data[0]);
    await session.release();
  });

  it('reports onnxruntime errors per call and keeps working', async () => {
    const session = await backend.load(tiny.onnx);
    await expect(session.run(new Float32Array(3 * 8 * 8), [1, 3, 8, 8])).rejects.toThrow(/dimension/i);
    await expect(backend.load(new TextEncoder().encode('not onnx'))).rejects.toThrow();
    await expect(session.run(input(7), [1, 3, 224, 224])).resolves.toMatchObject({ dims: [1, 1000] });
    await session.release();
    await expect(session.run(input(7), [1, 3, 224, 224])).rejects.toThrow(/released/);
  });

  it('terminate lets a run in progress finish, then later calls fail instead of hanging', async () => {
    const own = await createThreadedOrtNodeBackend({ device: 'cpu', threads: 1 });
    const session = await own.load(tiny.onnx);
    const running = session.run(input(9, 4), [4, 3, 224, 224]);
    await own.terminate();
    await expect(running).resolves.toMatchObject({ dims: [4, 1000] });
    await expect(session.run(input(9), [1, 3, 224, 224])).rejects.toThrow(/stopped/);
    await expect(own.load(tiny.onnx)).rejects.toThrow(/stopped/);
  });
});
