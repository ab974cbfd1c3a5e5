/**
 * End to end against the official PyTorch code: the 8 golden JPEGs, uploaded over HTTP to the worker in workerd,
 * decoded, preprocessed and run through fp32 M0 and M1 ONNX exports of the synthetic fixture checkpoints (built by
 * the global setup with the project's checkpoint reader and exporter). Scores must match the softmax of the golden
 * logits (computed by the official model code in float64) within 1e-4, with the same top-5.
 */
import { describe, expect, inject, it } from 'vitest';
import { GOLDEN_VARIANTS } from '../conformance/test-data.js';
import { fixture, worker } from './helpers.js';
import { classifyRequest, multipart, okJson, topIndices, type Prediction } from '../conformance/http.js';

const TOLERANCE = 1e-4;

interface GoldenMeta {
  images: string[];
  logits_shape: [number, number];
  top5: number[][];
}

function softmax(logits: Float32Array): number[] {
  const max = Math.max(...logits);
  const exps = Array.from(logits, (l) => Math.exp(l - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

async function golden(variant: string): Promise<{ images: string[]; scores: number[][] }> {
  const meta = JSON.parse(
    new TextDecoder().decode(await fixture(`shared/fixtures/golden/${variant}.json`)),
  ) as GoldenMeta;
  const bytes = await fixture(`shared/fixtures/golden/${variant}.logits.f32`);
  const [count, classes] = meta.logits_shape;
  const logits = new Float32Array(bytes.buffer, bytes.byteOffset, count * classes);
  const scores = meta.images.map((_, i) => softmax(logits.subarray(i * classes, (i + 1) * classes)));
  // The golden file's own top-5 agrees with its logits (guards against reading the file wrong).
  scores.forEach((row, i) => expect(topIndices(row, 5)).toEqual(meta.top5[i]));
  return { images: meta.images, scores };
}

function expectMatchesGolden(predictions: Prediction[], expected: number[]): void {
  expect(predictions.map((p) => p.index)).toEqual(topIndices(expected, 5));
  for (const p of predictions) expect(Math.abs(p.score - expected[p.index])).toBeLessThanOrEqual(TOLERANCE);
}

describe.each(GOLDEN_VARIANTS)('golden parity, %s fp32', (variant) => {
  it('the model was built from the fixture checkpoint', () => {
    expect(inject('goldenBuildErrors')[variant]).toBeUndefined();
  });

  it('each golden JPEG, one request each, matches the official scores', async () => {
    const { images, scores } = await golden(variant);
    for (const [i, name] of images.entries()) {
      const jpeg = await fixture(`shared/images/imagenet-sample/${name}`);
      const body = await okJson<{ model: string; predictions: Prediction[] }>(
        await worker(classifyRequest(jpeg, { query: `model=${variant}-fp32`, contentType: 'image/jpeg' })),
      );
      expect(body.model).toBe(`efficientvit_${variant}.fp32`);
      expectMatchesGolden(body.predictions, scores[i]);
    }
  });

  it('the 8 golden JPEGs as one multipart batch match too', async () => {
    const { images, scores } = await golden(variant);
    const parts = await Promise.all(
      images.map(async (name) => ({ bytes: await fixture(`shared/images/imagenet-sample/${name}`), filename: name })),
    );
    const body = await okJson<{ results: { filename: string; predictions: Prediction[] }[] }>(
      await worker(classifyRequest(multipart(parts), { query: `model=${variant}-fp32`, contentType: null })),
    );
    expect(body.results.map((r) => r.filename)).toEqual(images);
    body.results.forEach((result, i) => expectMatchesGolden(result.predictions, scores[i]));
  });
});
