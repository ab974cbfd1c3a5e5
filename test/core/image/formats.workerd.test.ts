/**
 * Every image fixture (test/fixtures/images, written by scripts/make-image-fixtures.ts) uploaded over HTTP to the
 * worker in workerd. A decodable one must score exactly as its expected upright RGB pixels do (preprocessed by the
 * project's transform, then the tiny model's pool + Gemm + softmax computed here); a bad one must get its problem,
 * and the isolate must still serve afterwards.
 */
import { describe, expect, it } from 'vitest';
import { IMAGENET_PREPROCESSING } from '../../../worker/core/manifest/manifest.js';
import { preprocessInto } from '../../../worker/core/preprocess/transform.js';
import fixtureManifest from '../../fixtures/images/manifest.json';
import { expectStillServing, fixture, tinyModel, worker } from '../../runtimes/workerd/helpers.js';
import {
  classifyRequest,
  expectPredictions,
  expectProblem,
  okJson,
  type Prediction,
} from '../../service/conformance/http.js';

interface ImageFixture {
  file: string;
  format: string;
  variant: string;
  width?: number;
  height?: number;
  expected?: string;
  tolerance?: number;
  error?: 'unsupported-format' | 'corrupt-image' | 'too-many-pixels';
}

/**
 * The fixture manifest was written for the previous JPEG decoder, which refused CMYK and arithmetic coding; the
 * wasm/jpeg decoder decodes CMYK and rejects this arithmetic-coded file as corrupt. The image tests
 * (test/core/image/decode.test.ts) make the same two corrections until the manifest is regenerated.
 */
const CORRECTIONS: Record<string, Partial<ImageFixture>> = {
  'jpeg-cmyk.jpg': { error: undefined },
  'jpeg-arithmetic.jpg': { error: 'corrupt-image' },
};

const fixtures = (fixtureManifest as { fixtures: ImageFixture[] }).fixtures.map((item) => ({
  ...item,
  ...CORRECTIONS[item.file],
}));

/** HTTP status per image error code; an empty upload is refused before it reaches the decoders. */
function expectedProblem(item: ImageFixture, bytes: Uint8Array): { status: number; code: string } {
  if (bytes.length === 0) return { status: 400, code: 'empty-body' };
  const status = { 'unsupported-format': 415, 'corrupt-image': 422, 'too-many-pixels': 413 }[item.error!];
  return { status, code: item.error! };
}

/** The tiny model's softmax scores for an upright RGB image, computed from its preprocessed tensor. */
function tinyScoresFor(rgb: Uint8Array, width: number, height: number): number[] {
  const model = tinyModel('tiny');
  const size = IMAGENET_PREPROCESSING.centerCrop;
  const tensor = new Float32Array(3 * size * size);
  preprocessInto({ width, height, data: rgb }, IMAGENET_PREPROCESSING, tensor, 0);
  const plane = size * size;
  const means = [0, 1, 2].map((c) => tensor.subarray(c * plane, (c + 1) * plane).reduce((a, b) => a + b, 0) / plane);
  const logits = Array.from({ length: model.classes }, (_, j) =>
    means.reduce((s, m, c) => s + m * model.weights[c * model.classes + j], model.bias[j]),
  );
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

describe('image fixtures over HTTP', () => {
  it('covers every format and error kind', () => {
    expect(new Set(fixtures.map((f) => f.format))).toEqual(new Set(['jpeg', 'png', 'webp', 'gif', 'none']));
    expect(new Set(fixtures.map((f) => f.error).filter(Boolean))).toEqual(
      new Set(['unsupported-format', 'corrupt-image', 'too-many-pixels']),
    );
  });

  for (const item of fixtures.filter((f) => !f.error)) {
    it(`${item.file} (${item.variant}) is classified as its expected pixels are`, async () => {
      const bytes = await fixture(`fixtures/images/${item.file}`);
      const body = await okJson<{ predictions: Prediction[] }>(
        await worker(classifyRequest(bytes, { query: 'model=tiny&top_k=5' })),
      );
      expect(body.predictions).toHaveLength(5);
      if (item.tolerance === 0) {
        const rgb = await fixture(`fixtures/images/expected/${item.expected}`);
        expect(rgb.length).toBe(item.width! * item.height! * 3);
        expectPredictions(body.predictions, tinyScoresFor(rgb, item.width!, item.height!), 5);
      }
    });
  }

  for (const item of fixtures.filter((f) => f.error)) {
    it(`${item.file} (${item.variant}) gets its problem, and the isolate still serves`, async () => {
      const bytes = await fixture(`fixtures/images/${item.file}`);
      const { status, code } = expectedProblem(item, bytes);
      await expectProblem(await worker(classifyRequest(bytes, { query: 'model=tiny' })), status, code);
      await expectStillServing();
    });
  }
});
