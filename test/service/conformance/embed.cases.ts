/**
 * POST /v1/embed on both runtimes: the fp32 exports' pooled features for golden JPEGs equal the float64 reference's
 * (the official model's pooled features) after L2 normalisation, as JSON numbers and as base64 float32; batches in
 * order with a bad image failing alone; the same errors as classify; a model built without the output (the tiny
 * classifiers, like a build from before embeddings) answers 501 no-embedding. Runtime-neutral.
 */
import { beforeAll, describe, expect } from 'vitest';
import { it } from './case.js';
import { expectProblem, expectStillServing, multipart, okJson } from './http.js';
import { CONFORMANCE_CONFIG, CONFORMANCE_MODELS, type ConformanceTarget } from './target.js';

/** Our preprocessing of the JPEG vs the official input tensor: decoder rounding moves the features this little. */
const EMBEDDING_TOLERANCE = 1e-3;
const MIN_COSINE = 0.9999;
const DIMS = 192; // M0 and M1 end at 192 channels

interface EmbedBody {
  model: string;
  dims: number;
  embedding: number[];
  timing: Record<string, number>;
}

interface EmbedBatchBody {
  model: string;
  dims: number;
  results: ({ filename: string; embedding: number[] } | { filename: string; error: { code: string } })[];
}

const dot = (a: readonly number[], b: readonly number[]) => a.reduce((sum, x, i) => sum + x * b[i], 0);

function expectReference(embedding: number[], expected: number[]): void {
  expect(embedding).toHaveLength(DIMS);
  expect(Math.abs(Math.hypot(...embedding) - 1)).toBeLessThan(1e-5);
  expect(Math.max(...embedding.map((x, i) => Math.abs(x - expected[i])))).toBeLessThanOrEqual(EMBEDDING_TOLERANCE);
  expect(dot(embedding, expected)).toBeGreaterThanOrEqual(MIN_COSINE);
}

function fromBase64Float32(text: string): number[] {
  const bytes = Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  return Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
}

export function defineEmbedCases(getTarget: () => ConformanceTarget): void {
  let target: ConformanceTarget;
  const jpegs: Uint8Array[] = [];
  const embed = (query: string, body: BodyInit, headers: Record<string, string> = { 'content-type': 'image/jpeg' }) =>
    target.fetch(`/v1/embed${query}`, { method: 'POST', body, headers });

  beforeAll(async () => {
    target = getTarget();
    const meta = JSON.parse(new TextDecoder().decode(await target.shared('fixtures/golden/m0.json'))) as {
      images: string[];
    };
    for (const name of meta.images.slice(0, 2)) jpegs.push(await target.shared(`images/imagenet-sample/${name}`));
  });

  describe('POST /v1/embed', () => {
    it.each(['m0', 'm1'] as const)(
      'fp32 %s: a golden JPEG gives the reference pooled features, unit norm',
      async (variant) => {
        for (const [image, jpeg] of jpegs.entries()) {
          // Computed afresh, not an earlier case's cached answer: its timing has the inference stage.
          const computed = { 'content-type': 'image/jpeg', 'cache-control': 'no-cache' };
          const body = await okJson<EmbedBody>(await embed(`?model=${CONFORMANCE_MODELS[variant]}`, jpeg, computed));
          expect(body).toMatchObject({ model: `efficientvit_${variant}.fp32`, dims: DIMS });
          expect(body.timing.inference_ms).toEqual(expect.any(Number));
          expectReference(body.embedding, target.referenceEmbeddings[variant][image]);
        }
      },
    );

    it('encoding=base64 carries the same float32 values as the JSON numbers', async () => {
      const query = `?model=${CONFORMANCE_MODELS.m0}`;
      const numbers = await okJson<EmbedBody>(await embed(query, jpegs[0]));
      const encoded = await okJson<{ embedding: string; encoding: string; dims: number }>(
        await embed(`${query}&encoding=base64`, jpegs[0]),
      );
      expect(encoded).toMatchObject({ encoding: 'base64', dims: DIMS });
      expect(fromBase64Float32(encoded.embedding)).toEqual(numbers.embedding);
    });

    it('a multipart batch answers per image, in order, with a bad image failing alone', async () => {
      const form = multipart([
        { bytes: jpegs[1], filename: 'second.jpg' },
        { bytes: jpegs[0].subarray(0, 200), filename: 'broken.jpg' },
        { bytes: jpegs[0], filename: 'first.jpg' },
      ]);
      const response = await target.fetch(`/v1/embed?model=${CONFORMANCE_MODELS.m1}`, { method: 'POST', body: form });
      const body = await okJson<EmbedBatchBody>(response);
      expect(body).toMatchObject({ model: 'efficientvit_m1.fp32', dims: DIMS });
      expect(body.results.map((result) => result.filename)).toEqual(['second.jpg', 'broken.jpg', 'first.jpg']);
      expect(body.results[1]).toMatchObject({ error: { code: 'corrupt-image' } });
      const reference = target.referenceEmbeddings.m1;
      expectReference((body.results[0] as { embedding: number[] }).embedding, reference[1]);
      expectReference((body.results[2] as { embedding: number[] }).embedding, reference[0]);
    });

    it('a model built without the embedding output answers 501 no-embedding, naming the model', async () => {
      const problem = await expectProblem(await embed('', jpegs[0]), 501, 'no-embedding');
      expect(problem.model).toBe(CONFORMANCE_MODELS.tiny);
      await expectStillServing(target);
    });

    it('answers bad requests with the same problems as classify', async () => {
      const m0 = `?model=${CONFORMANCE_MODELS.m0}`;
      await expectProblem(await embed(`${m0}&encoding=hex`, jpegs[0]), 400, 'bad-parameter');
      await expectProblem(await embed('?model=nope', jpegs[0]), 404, 'unknown-model');
      await expectProblem(await embed(m0, new Uint8Array(0)), 400, 'empty-body');
      await expectProblem(await embed(m0, jpegs[0], { 'content-type': 'text/plain' }), 415, 'unsupported-content-type');
      await expectProblem(await embed(m0, new TextEncoder().encode('not an image')), 415, 'unsupported-format');
      const tooLarge = new Uint8Array(Number(CONFORMANCE_CONFIG.MAX_BODY_BYTES) + 1);
      await expectProblem(await embed(m0, tooLarge), 413, 'body-too-large');
      const many = multipart(
        Array.from({ length: Number(CONFORMANCE_CONFIG.MAX_BATCH) + 1 }, (_, i) => ({
          bytes: jpegs[0],
          filename: `${i}.jpg`,
        })),
      );
      await expectProblem(await target.fetch(`/v1/embed${m0}`, { method: 'POST', body: many }), 413, 'batch-too-large');
      await expectStillServing(target);
    });
  });
}
