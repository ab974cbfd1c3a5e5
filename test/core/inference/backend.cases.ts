/**
 * One contract, every InferenceBackend (worker/core/inference/backend.ts), the way Hono runs one case file against each
 * router: onnxruntime-web in Node and in workerd, onnxruntime-node, and the Node build's inference thread all run
 * these cases on real sessions and real ONNX files. Runtime-neutral: no Node or workerd APIs here; each runner
 * supplies the backend and the bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceBackend, ModelSession } from '../../../worker/core/inference/backend.js';

export interface TinyModelBytes {
  onnx: Uint8Array;
  classes: number;
  /** Gemm B, row-major [3, classes]. */
  weights: readonly number[];
  bias: readonly number[];
}

export interface BackendTarget {
  name: string;
  backend(): Promise<InferenceBackend>;
  /** The tiny classifier (test/helpers/tiny-model.ts): logits are affine in the per-channel means. */
  tiny(): Promise<TinyModelBytes>;
  /** The fp32 M0 export of the synthetic checkpoint and the official code's logits for the golden inputs. */
  golden(): Promise<{
    onnx: Uint8Array;
    input: Float32Array;
    dims: [number, number, number, number];
    logits: Float32Array;
  }>;
  /** Called once after the cases (e.g. to stop a thread). */
  dispose?(backend: InferenceBackend): Promise<void>;
}

const PLANE = 224 * 224;

function constantBatch(rows: readonly (readonly number[])[]): Float32Array {
  const data = new Float32Array(rows.length * 3 * PLANE);
  rows.forEach((values, n) => values.forEach((v, c) => data.fill(v, (n * 3 + c) * PLANE, (n * 3 + c + 1) * PLANE)));
  return data;
}

function tinyLogits(model: TinyModelBytes, values: readonly number[]): number[] {
  return Array.from({ length: model.classes }, (_, j) =>
    values.reduce((sum, v, c) => sum + v * model.weights[c * model.classes + j], model.bias[j]),
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export function defineBackendSuite(target: () => BackendTarget): void {
  describe(`InferenceBackend contract: ${target().name}`, () => {
    let backend: InferenceBackend;
    let tiny: TinyModelBytes;
    let session: ModelSession;

    beforeAll(async () => {
      backend = await target().backend();
      tiny = await target().tiny();
      session = await backend.load(tiny.onnx);
    });
    afterAll(async () => {
      await session?.release();
      if (backend) await target().dispose?.(backend);
    });

    it('names itself and the graph’s input and output', () => {
      expect(backend.name).toMatch(/^onnxruntime-(web|node)\//);
      expect(session.inputName).toBe('input');
      expect(session.outputName).toBe('logits');
    });

    it('runs a batch as one call: N rows, each row its own result', async () => {
      const rows = [
        [0.5, -1, 2],
        [-2, 0.25, 0],
        [1, 1, 1],
      ];
      const output = await session.run(constantBatch(rows), [3, 3, 224, 224]);
      expect(output.dims).toEqual([3, tiny.classes]);
      // A one-output graph (like a build from before embeddings) has none.
      expect(output.embedding).toBeUndefined();
      rows.forEach((values, n) => {
        const got = output.data.subarray(n * tiny.classes, (n + 1) * tiny.classes);
        expect(maxAbsDiff(got, tinyLogits(tiny, values))).toBeLessThan(1e-4);
      });
    });

    it('one session serves different batch sizes, one after another and concurrently', async () => {
      const [one, two] = await Promise.all([
        session.run(constantBatch([[0.125, 0.25, -0.5]]), [1, 3, 224, 224]),
        session.run(
          constantBatch([
            [1, 0, -1],
            [0, 0, 0],
          ]),
          [2, 3, 224, 224],
        ),
      ]);
      expect(one.dims).toEqual([1, tiny.classes]);
      expect(two.dims).toEqual([2, tiny.classes]);
      expect(maxAbsDiff(one.data, tinyLogits(tiny, [0.125, 0.25, -0.5]))).toBeLessThan(1e-4);
      expect(maxAbsDiff(two.data.subarray(tiny.classes), tinyLogits(tiny, [0, 0, 0]))).toBeLessThan(1e-4);
    });

    it('refuses bytes that are not a model, and loads the next one normally', async () => {
      await expect(backend.load(new TextEncoder().encode('not onnx'))).rejects.toThrow();
      const again = await backend.load(tiny.onnx);
      const output = await again.run(constantBatch([[0, 0, 0]]), [1, 3, 224, 224]);
      expect(maxAbsDiff(output.data, tinyLogits(tiny, [0, 0, 0]))).toBeLessThan(1e-4);
      await again.release();
    });

    it('reproduces the official PyTorch logits for M0 (golden fixtures, batch 8)', async () => {
      const golden = await target().golden();
      const m0 = await backend.load(golden.onnx);
      try {
        const output = await m0.run(golden.input, golden.dims);
        expect(m0.outputName).toBe('logits');
        expect(output.dims).toEqual([golden.dims[0], 1000]);
        expect(maxAbsDiff(output.data, golden.logits)).toBeLessThan(1e-3);
        // The second output: the pooled features, [N, 192], each image's row its own (same as run alone).
        expect(output.embedding?.dims).toEqual([golden.dims[0], 192]);
        expect(output.embedding!.data.every(Number.isFinite)).toBe(true);
        const image = 5 * 3 * PLANE;
        const alone = await m0.run(golden.input.slice(image, image + 3 * PLANE), [1, 3, 224, 224]);
        expect(alone.embedding?.dims).toEqual([1, 192]);
        expect(maxAbsDiff(alone.embedding!.data, output.embedding!.data.subarray(5 * 192, 6 * 192))).toBeLessThan(1e-5);
      } finally {
        await m0.release();
      }
    });
  });
}
