/**
 * The verify metrics on real onnxruntime sessions of two tiny classifiers whose logits are known in closed form
 * (test/helpers/tiny-model.ts: an affine function of the per-channel means of the input), so every expected
 * number is computed here independently of the code under test.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { agreementOf, compareModels, cosineSimilarity, topIndices } from '../../../models/toolchain/verify/compare.js';
import { latencyStats, measureLatencies } from '../../../models/toolchain/verify/latency.js';
import { formatVerifyReport, verifyModels } from '../../../models/toolchain/verify/report.js';
import { createOrtNodeBackend } from '../../../worker/runtimes/node/inference/ort-node.js';
import { createOrtWebBackend } from '../../../worker/core/inference/ort-web.js';
import { buildTinyClassifier, type TinyClassifier } from '../../helpers/tiny-model.js';

const repoRoot = path.resolve(import.meta.dirname, '../../..');
const SIZE = 32;
const CLASSES = 50;

/** Images with distinct constant colours per channel (float, preprocessed-like values). */
function colourImages(count: number): Float32Array[] {
  return Array.from({ length: count }, (_, i) => {
    const image = new Float32Array(3 * SIZE * SIZE);
    for (let c = 0; c < 3; c++) image.fill(Math.sin(1.3 * i + 2.1 * c) * 2, c * SIZE * SIZE, (c + 1) * SIZE * SIZE);
    return image;
  });
}

/** The classifier's logits for an image, from its weights (Σ_c mean_c · W[c, j] + b[j]). */
function expectedLogits(model: TinyClassifier, image: Float32Array): Float64Array {
  const plane = SIZE * SIZE;
  const means = [0, 1, 2].map((c) => image.subarray(c * plane, (c + 1) * plane).reduce((s, v) => s + v, 0) / plane);
  return Float64Array.from({ length: model.classes }, (_, j) =>
    means.reduce((s, m, c) => s + m * model.weights[c * model.classes + j], model.bias[j]),
  );
}

describe('agreement metrics', () => {
  it('topIndices: largest first, ties to the lower index', () => {
    expect(topIndices([0.1, 5, 3, 5, -1, 4], 3)).toEqual([1, 3, 5]);
    expect(topIndices([2, 2, 2], 2)).toEqual([0, 1]);
    expect(topIndices([1], 5)).toEqual([0]);
  });

  it('cosine similarity', () => {
    expect(cosineSimilarity([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(cosineSimilarity([1, 0], [0, 1])).toBe(0);
    expect(cosineSimilarity([1, 0], [-1, 0])).toBe(-1);
    expect(() => cosineSimilarity([1], [1, 2])).toThrow(/length/);
  });

  it('agreementOf counts top-1 matches and top-5 overlap per image', () => {
    const reference = [0, 1, 2, 3, 4, 5, 6, 7];
    const same = agreementOf([{ candidate: reference, reference }]);
    expect(same).toMatchObject({
      images: 1,
      top1Agreement: 1,
      top5Overlap: 1,
      meanCosine: 1,
      minCosine: 1,
      maxAbsDiff: 0,
      meanRelativeError: 0,
    });
    // Top-1 swapped with the 6th best: top-1 differs, top-5 shares 4 of 5.
    const swapped = [0, 1, 7, 3, 4, 5, 6, 2];
    const m = agreementOf([
      { candidate: reference, reference },
      { candidate: swapped, reference },
    ]);
    expect(m.top1Agreement).toBe(0.5);
    expect(m.top5Overlap).toBeCloseTo((1 + 4 / 5) / 2, 12);
    expect(m.maxAbsDiff).toBe(5);
    expect(m.minCosine).toBeCloseTo(cosineSimilarity(swapped, reference), 12);
    // ‖swapped − reference‖ = √(5² + 5²), ‖reference‖ = √140; the identical row contributes 0.
    expect(m.meanRelativeError).toBeCloseTo(Math.sqrt(50 / 140) / 2, 12);
    // Reference margin: (7 − 6) / population std of 0…7 (√5.25), the same for both rows.
    expect(m.medianReferenceMargin).toBeCloseTo(1 / Math.sqrt(5.25), 12);
    expect(() => agreementOf([])).toThrow(/no images/);
  });
});

describe('compareModels and verifyModels on real sessions', () => {
  const a = buildTinyClassifier({ classes: CLASSES, seed: 1, size: SIZE });
  const b = buildTinyClassifier({ classes: CLASSES, seed: 2, size: SIZE });
  const images = colourImages(12);
  const batch = (list: Float32Array[]) => ({
    data: Float32Array.from(list.flatMap((x) => Array.from(x))),
    dims: [list.length, 3, SIZE, SIZE],
  });
  const backends = [
    createOrtNodeBackend({ threads: 1 }),
    createOrtWebBackend(
      new Uint8Array(
        readFileSync(path.join(repoRoot, 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm')),
      ),
    ),
  ];

  it('matches the agreement computed from the closed-form logits, single images and batches alike', async () => {
    const expected = agreementOf(
      images.map((image) => ({ candidate: expectedLogits(b, image), reference: expectedLogits(a, image) })),
    );
    expect(expected.top1Agreement).toBeLessThan(1); // the two classifiers do disagree somewhere
    const backend = backends[0];
    const candidate = await backend.load(b.onnx);
    const reference = await backend.load(a.onnx);
    for (const input of [images, [batch(images.slice(0, 5)), batch(images.slice(5))]]) {
      const m = await compareModels(candidate, reference, input);
      expect(m.images).toBe(12);
      expect(m.top1Agreement).toBe(expected.top1Agreement);
      expect(m.top5Overlap).toBeCloseTo(expected.top5Overlap, 12);
      expect(m.meanCosine).toBeCloseTo(expected.meanCosine, 5);
      expect(m.minCosine).toBeCloseTo(expected.minCosine, 5);
    }
    const self = await compareModels(reference, reference, images);
    expect(self).toMatchObject({ top1Agreement: 1, top5Overlap: 1, maxAbsDiff: 0 });
    await candidate.release();
    await reference.release();
  });

  it('verifyModels reports sizes, agreement and side-by-side latency per backend; the table shows them', async () => {
    const report = await verifyModels({
      candidate: { name: 'tiny.b', bytes: b.onnx },
      reference: { name: 'tiny.a', bytes: a.onnx },
      backends,
      images,
      latency: { warmup: 2, runs: 5 },
    });
    expect(report.candidate).toEqual({ name: 'tiny.b', bytes: b.onnx.byteLength });
    expect(report.sizeRatio).toBe(a.onnx.byteLength / b.onnx.byteLength);
    expect(report.backends.map((r) => r.backend)).toEqual(['onnxruntime-node/cpu', 'onnxruntime-web/wasm']);
    const expectedTop1 = agreementOf(
      images.map((image) => ({ candidate: expectedLogits(b, image), reference: expectedLogits(a, image) })),
    ).top1Agreement;
    for (const result of report.backends) {
      expect(result.agreement.top1Agreement).toBe(expectedTop1);
      expect(result.latency?.candidate.runs).toBe(5);
      expect(result.latency?.reference.runs).toBe(5);
      expect(result.latency?.speedup).toBe(result.latency!.reference.medianMs / result.latency!.candidate.medianMs);
    }
    const text = formatVerifyReport(report);
    expect(text.split('\n')[0]).toContain('tiny.b');
    expect(text).toContain('onnxruntime-web/wasm');
    expect(text).toContain(`${(expectedTop1 * 100).toFixed(1)}%`);
    const noLatency = await verifyModels({
      candidate: { name: 'b', bytes: b.onnx },
      reference: { name: 'a', bytes: a.onnx },
      backends: backends.slice(0, 1),
      images,
      latency: false,
    });
    expect(noLatency.backends[0].latency).toBeUndefined();
    await expect(
      verifyModels({
        candidate: { name: 'b', bytes: b.onnx },
        reference: { name: 'a', bytes: a.onnx },
        backends,
        images: [],
      }),
    ).rejects.toThrow(/held-out/);
  });

  it('latency statistics: medians and quantiles of the samples, one sample per run and session', async () => {
    expect(latencyStats([5, 1, 3, 2, 4], [1, 1, 2, 2, 2])).toEqual({
      runs: 5,
      medianMs: 3,
      p10Ms: 1.4,
      p90Ms: 4.6,
      cpuMedianMs: 2,
    });
    const session = await backends[0].load(a.onnx);
    const stats = await measureLatencies(
      { one: session, two: session },
      { data: images[0], dims: [1, 3, SIZE, SIZE] },
      { warmup: 1, runs: 4 },
    );
    expect(stats.one.runs).toBe(4);
    expect(stats.two.runs).toBe(4);
    await session.release();
  });
});
