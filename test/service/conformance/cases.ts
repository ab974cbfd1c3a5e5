/**
 * One behaviour, two backends: the HTTP cases every build of the service must pass, run against the Worker inside
 * workerd (test/service/conformance/workerd.workerd.test.ts) and against the Node server (test/service/conformance/node.test.ts), as
 * Hono's runtime-tests run one set of cases per runtime. Runtime-neutral: no Node or workerd APIs here.
 *
 * Models and limits: test/service/conformance/target.ts (CONFORMANCE_MODELS, CONFORMANCE_CONFIG). Golden data: the official
 * PyTorch code's logits for the 8 golden JPEGs (../shared/fixtures/golden).
 *
 * Where the backends truly differ, the difference is not a case here: the Node server's bounded batching queue
 * (503 overloaded with Retry-After) exists only there and is tested in test/runtimes/node/server.test.ts.
 */
import { beforeAll, describe, expect } from 'vitest';
import { it } from './case.js';
import { pngCodec } from '../../../worker/core/image/png.js';
import { expectProblem } from './http.js';
import { CONFORMANCE_CONFIG, CONFORMANCE_MODELS, type ConformanceTarget } from './target.js';
import type { Prediction } from '../../../worker/api/common.js';

/** Probabilities from our preprocessing + fp32 onnxruntime vs the softmax of the official float64 logits. */
export const GOLDEN_SCORE_TOLERANCE = 1e-4;
const PROBLEM_TYPE_PREFIX = 'tag:efficientvit-edge,2026:problem:';
const MAX_BODY_BYTES = Number(CONFORMANCE_CONFIG.MAX_BODY_BYTES);
const MAX_BATCH = Number(CONFORMANCE_CONFIG.MAX_BATCH);

interface Golden {
  images: string[];
  top5: number[][];
  /** Softmax of each image's golden logits, float64. */
  probabilities: Float64Array[];
}

function softmax(logits: Float32Array): Float64Array {
  const max = logits.reduce((a, b) => Math.max(a, b), -Infinity);
  const exp = Float64Array.from(logits, (x) => Math.exp(x - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp.map((x) => x / sum);
}

async function readGolden(target: ConformanceTarget, variant: 'm0' | 'm1'): Promise<Golden> {
  const meta = JSON.parse(new TextDecoder().decode(await target.shared(`fixtures/golden/${variant}.json`))) as {
    images: string[];
    top5: number[][];
    logits_shape: [number, number];
  };
  const raw = await target.shared(`fixtures/golden/${variant}.logits.f32`);
  // Copied into an aligned buffer: the bytes may sit at any offset.
  const logits = new Float32Array(raw.slice().buffer);
  const [rows, classes] = meta.logits_shape;
  expect(logits.length).toBe(rows * classes);
  const probabilities = Array.from({ length: rows }, (_, row) =>
    softmax(logits.subarray(row * classes, (row + 1) * classes)),
  );
  return { images: meta.images, top5: meta.top5, probabilities };
}

/** Every returned score within tolerance of the golden probability of its class, and the golden top-5 order. */
function expectGoldenPredictions(predictions: Prediction[], golden: Golden, image: number): void {
  const expected = golden.probabilities[image];
  const worst = Math.max(...predictions.map((p) => Math.abs(p.score - expected[p.index])));
  expect(worst, `${golden.images[image]}: largest |Δ probability|`).toBeLessThanOrEqual(GOLDEN_SCORE_TOLERANCE);
  expect(
    predictions.slice(0, 5).map((p) => p.index),
    `${golden.images[image]}: top-5`,
  ).toEqual(golden.top5[image]);
}

/** The same JPEG with its frame header claiming other dimensions: a pixel-limit check must not need to decode. */
function withJpegDimensions(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const bytes = jpeg.slice();
  let offset = 2;
  while (offset + 9 < bytes.length && bytes[offset] === 0xff) {
    const marker = bytes[offset + 1];
    const length = (bytes[offset + 2] << 8) | bytes[offset + 3];
    // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      bytes.set([height >> 8, height & 0xff, width >> 8, width & 0xff], offset + 5);
      return bytes;
    }
    offset += 2 + length;
  }
  throw new Error('no JPEG frame header found');
}

function multipart(parts: { bytes: Uint8Array; filename: string }[], field = 'image'): FormData {
  const form = new FormData();
  for (const part of parts)
    form.append(field, new Blob([part.bytes], { type: 'application/octet-stream' }), part.filename);
  return form;
}

export function defineConformanceSuite(getTarget: () => ConformanceTarget): void {
  let target: ConformanceTarget;
  const golden: Partial<Record<'m0' | 'm1', Golden>> = {};
  const goldenJpegs: Uint8Array[] = [];

  const classify = (
    query: string,
    body: BodyInit,
    headers: Record<string, string> = { 'content-type': 'image/jpeg' },
  ) => target.fetch(`/v1/classify${query}`, { method: 'POST', body, headers });

  /** After a bad input, the same service still answers a good request normally. */
  async function expectStillServing(): Promise<void> {
    const response = await classify('', goldenJpegs[0]);
    expect(response.status, await response.clone().text()).toBe(200);
    const body = (await response.json()) as { predictions: Prediction[] };
    expect(body.predictions).toHaveLength(5);
  }

  beforeAll(async () => {
    target = getTarget();
    golden.m0 = await readGolden(target, 'm0');
    golden.m1 = await readGolden(target, 'm1');
    expect(golden.m1.images).toEqual(golden.m0.images);
    for (const name of golden.m0.images) goldenJpegs.push(await target.shared(`images/imagenet-sample/${name}`));
  });

  describe('service endpoints', () => {
    it('GET /healthz answers ok', async () => {
      const response = await target.fetch('/healthz');
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
    });

    it('GET /v1/models lists every model with its source and the default', async () => {
      const response = await target.fetch('/v1/models');
      expect(response.status).toBe(200);
      const body = (await response.json()) as { backend: string; default: string; models: Record<string, unknown>[] };
      expect(typeof body.backend).toBe('string');
      expect(body.default).toBe(CONFORMANCE_MODELS.tiny);
      const names = body.models.map((model) => model.name);
      for (const name of Object.values(CONFORMANCE_MODELS)) expect(names).toContain(name);
      const m0 = body.models.find((model) => model.name === CONFORMANCE_MODELS.m0);
      expect(m0).toMatchObject({
        variant: 'm0',
        precision: 'fp32',
        classes: 1000,
        default: false,
        source: { kind: 'synthetic-fixture' },
      });
    });
  });

  describe.each(['m0', 'm1'] as const)('golden parity as one batch, fp32 %s', (variant) => {
    it('the 8 golden JPEGs in one multipart request match the official scores, in order', async () => {
      const names = golden[variant]!.images;
      const parts = names.map((name, image) => ({ bytes: goldenJpegs[image], filename: name }));
      const response = await target.fetch(`/v1/classify?model=${CONFORMANCE_MODELS[variant]}&top_k=5`, {
        method: 'POST',
        body: multipart(parts),
      });
      expect(response.status, await response.clone().text()).toBe(200);
      const body = (await response.json()) as { results: { filename: string; predictions: Prediction[] }[] };
      expect(body.results.map((result) => result.filename)).toEqual(names);
      body.results.forEach((result, image) => expectGoldenPredictions(result.predictions, golden[variant]!, image));
    });
  });

  describe('the demo page and include=input', () => {
    it('GET / serves the self-contained page, with a CSP that allows only its own script and styles', async () => {
      const response = await target.fetch('/');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html; charset=utf-8$/i);
      const html = await response.text();
      expect(html).toContain('<select id="model"');
      expect(html).toMatch(/<input id="file"[^>]*type="file"[^>]*accept="image\/\*"/);
      expect(html).toMatch(/<script type="module">[^<]+<\/script>/);
      // No external resource: works offline and through a strict CSP.
      expect(html).not.toMatch(/\s(src|href)="(https?:)?\/\//);
      expect(html).toMatch(/script-src 'sha256-[A-Za-z0-9+/]+=*'/);
    });

    it('include=input returns the exact crop the model saw, as PNG: it renormalizes to the official model input', async () => {
      const raw = await target.shared('fixtures/golden/m0.input.f32');
      const goldenInput = new Float32Array(raw.slice().buffer);
      const response = await classify(`?model=${CONFORMANCE_MODELS.m0}&include=input`, goldenJpegs[0]);
      expect(response.status, await response.clone().text()).toBe(200);
      const body = (await response.json()) as { predictions: Prediction[]; input: string };
      expect(body.predictions).toHaveLength(5);
      const prefix = 'data:image/png;base64,';
      expect(body.input.startsWith(prefix)).toBe(true);
      const png = Uint8Array.from(atob(body.input.slice(prefix.length)), (char) => char.charCodeAt(0));
      const crop = await pngCodec.decode(png);
      expect([crop.width, crop.height, crop.channels]).toEqual([224, 224, 3]);
      const mean = [0.485, 0.456, 0.406].map(Math.fround);
      const std = [0.229, 0.224, 0.225].map(Math.fround);
      const plane = 224 * 224;
      let mismatches = 0;
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < plane; i++) {
          const value = Math.fround(Math.fround(Math.fround(crop.data[i * 3 + c] / 255) - mean[c]) / std[c]);
          if (value !== goldenInput[c * plane + i]) mismatches++;
        }
      }
      expect(mismatches).toBe(0);
    });

    it('include=input in a batch: a crop per decoded image, none for a failed one; bad values are 400', async () => {
      const form = multipart([
        { bytes: goldenJpegs[1], filename: 'one.jpg' },
        { bytes: new TextEncoder().encode('not an image'), filename: 'notes.txt' },
      ]);
      const response = await target.fetch('/v1/classify?include=input', { method: 'POST', body: form });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { results: { input?: string; error?: unknown }[] };
      expect(body.results[0].input).toMatch(/^data:image\/png;base64,/);
      expect(body.results[1]).toMatchObject({ error: { code: 'unsupported-format' } });
      expect(body.results[1].input).toBeUndefined();

      const plain = (await (await classify('', goldenJpegs[1])).json()) as Record<string, unknown>;
      expect(plain.input).toBeUndefined();
      await expectProblem(await classify('?include=inputs', goldenJpegs[1]), 400, 'bad-parameter');
    });
  });

  describe.each(['m0', 'm1'] as const)('golden parity, fp32 %s', (variant) => {
    it('each golden JPEG scores as the official PyTorch model does', async () => {
      const model = CONFORMANCE_MODELS[variant];
      for (const [image, jpeg] of goldenJpegs.entries()) {
        const response = await classify(`?model=${model}&top_k=1000`, jpeg);
        expect(response.status, await response.clone().text()).toBe(200);
        const body = (await response.json()) as {
          model: string;
          predictions: Prediction[];
          timing: Record<string, number>;
        };
        expect(body.model).toBe(`efficientvit_${variant}.fp32`);
        expect(body.predictions).toHaveLength(1000);
        // Every request's stages; a request that loaded the model adds its load stages.
        expect(Object.keys(body.timing)).toEqual(
          expect.arrayContaining([
            'decode_wait_ms',
            'decode_ms',
            'preprocess_ms',
            'model_wait_ms',
            'inference_ms',
            'total_ms',
          ]),
        );
        expectGoldenPredictions(body.predictions, golden[variant]!, image);
      }
    });
  });

  describe('batches and concurrency', () => {
    it('a multipart batch answers per image, in order, with a bad image failing alone', async () => {
      const truncated = goldenJpegs[3].subarray(0, Math.floor(goldenJpegs[3].length / 3));
      const parts = [
        { bytes: goldenJpegs[0], filename: 'first.jpg' },
        { bytes: goldenJpegs[1], filename: 'second.jpg' },
        { bytes: truncated, filename: 'truncated.jpg' },
        { bytes: goldenJpegs[2], filename: 'third.jpg' },
      ];
      const response = await target.fetch(`/v1/classify?model=${CONFORMANCE_MODELS.m0}&top_k=10`, {
        method: 'POST',
        body: multipart(parts),
      });
      expect(response.status, await response.clone().text()).toBe(200);
      const body = (await response.json()) as {
        model: string;
        results: (
          | { filename?: string; predictions: Prediction[] }
          | { filename?: string; error: Record<string, unknown> }
        )[];
      };
      expect(body.model).toBe('efficientvit_m0.fp32');
      expect(body.results.map((result) => result.filename)).toEqual(parts.map((part) => part.filename));
      for (const [slot, image] of [
        [0, 0],
        [1, 1],
        [3, 2],
      ]) {
        const result = body.results[slot];
        expect('predictions' in result, JSON.stringify(result)).toBe(true);
        expectGoldenPredictions((result as { predictions: Prediction[] }).predictions, golden.m0!, image);
      }
      expect((body.results[2] as { error: Record<string, unknown> }).error).toMatchObject({
        type: `${PROBLEM_TYPE_PREFIX}corrupt-image`,
        status: 422,
        code: 'corrupt-image',
      });
    });

    it('16 concurrent requests with different images each get the result of their own image', async () => {
      const requests = Array.from({ length: 16 }, (_, i) => ({
        variant: i % 2 === 0 ? ('m0' as const) : ('m1' as const),
        image: i % 8,
      }));
      const responses = await Promise.all(
        requests.map(({ variant, image }) =>
          classify(`?model=${CONFORMANCE_MODELS[variant]}&top_k=20`, goldenJpegs[image]),
        ),
      );
      for (const [i, response] of responses.entries()) {
        expect(response.status).toBe(200);
        const body = (await response.json()) as { model: string; predictions: Prediction[] };
        expect(body.model).toBe(`efficientvit_${requests[i].variant}.fp32`);
        expectGoldenPredictions(body.predictions, golden[requests[i].variant]!, requests[i].image);
      }
    });
  });

  describe('every error kind is a problem+json with its own type, and the service keeps serving', () => {
    it('400 bad-parameter: top_k out of range or not an integer, empty model, top_k above the class count', async () => {
      for (const query of [
        '?top_k=0',
        '?top_k=1001',
        '?top_k=abc',
        '?top_k=2.5',
        '?model=',
        '?model=tiny-10&top_k=11',
      ]) {
        const problem = await expectProblem(await classify(query, goldenJpegs[0]), 400, 'bad-parameter');
        expect(['top_k', 'model']).toContain(problem.parameter);
      }
      await expectStillServing();
    });

    it('400 empty-body and malformed-body', async () => {
      await expectProblem(await classify('', new Uint8Array(0)), 400, 'empty-body');
      const noImageField = multipart([{ bytes: goldenJpegs[0], filename: 'a.jpg' }], 'file');
      await expectProblem(
        await target.fetch('/v1/classify', { method: 'POST', body: noImageField }),
        400,
        'empty-body',
      );
      await expectProblem(
        await classify('', 'this is not a multipart body', {
          'content-type': 'multipart/form-data; boundary=nothing-here',
        }),
        400,
        'malformed-body',
      );
      await expectStillServing();
    });

    it('404 unknown-model and unknown route', async () => {
      const problem = await expectProblem(await classify('?model=m9-fp32', goldenJpegs[0]), 404, 'unknown-model');
      expect(problem.available).toEqual(expect.arrayContaining([CONFORMANCE_MODELS.m0, CONFORMANCE_MODELS.tiny]));
      await expectProblem(await target.fetch('/v2/nothing'), 404, 'not-found');
      await expectStillServing();
    });

    it('405 method-not-allowed, with Allow', async () => {
      const response = await target.fetch('/v1/classify');
      expect(response.headers.get('allow')).toContain('POST');
      await expectProblem(response, 405, 'method-not-allowed');
      await expectProblem(await target.fetch('/v1/models', { method: 'DELETE' }), 405, 'method-not-allowed');
      await expectStillServing();
    });

    it('413 body-too-large, too-many-pixels (from the header alone) and batch-too-large', async () => {
      const tooLarge = await expectProblem(
        await classify('', new Uint8Array(MAX_BODY_BYTES + 1)),
        413,
        'body-too-large',
      );
      expect(tooLarge.limit).toBe(MAX_BODY_BYTES);

      // 5000×4000 = 20 MP claimed by a 100 KB file: refused before any decoding.
      const huge = await expectProblem(
        await classify('', withJpegDimensions(goldenJpegs[0], 5000, 4000)),
        413,
        'too-many-pixels',
      );
      expect(huge).toMatchObject({ width: 5000, height: 4000 });

      const parts = Array.from({ length: MAX_BATCH + 1 }, (_, i) => ({
        bytes: goldenJpegs[i % 8],
        filename: `${i}.jpg`,
      }));
      const batch = await expectProblem(
        await target.fetch('/v1/classify', { method: 'POST', body: multipart(parts) }),
        413,
        'batch-too-large',
      );
      expect(batch).toMatchObject({ limit: MAX_BATCH, count: MAX_BATCH + 1 });
      await expectStillServing();
    });

    it('415 unsupported-content-type and unsupported-format (sniffed, whatever the header says)', async () => {
      await expectProblem(
        await classify('', 'hello', { 'content-type': 'text/plain' }),
        415,
        'unsupported-content-type',
      );
      await expectProblem(
        await classify('', new TextEncoder().encode('definitely not an image, just text')),
        415,
        'unsupported-format',
      );
      await expectStillServing();
    });

    it('422 corrupt-image: a truncated JPEG', async () => {
      await expectProblem(
        await classify('', goldenJpegs[1].subarray(0, Math.floor(goldenJpegs[1].length / 2))),
        422,
        'corrupt-image',
      );
      await expectStillServing();
    });

    it('503 model-unavailable: missing file, corrupt model, checksum mismatch', async () => {
      for (const model of [CONFORMANCE_MODELS.missing, CONFORMANCE_MODELS.corrupt, CONFORMANCE_MODELS.tampered]) {
        const problem = await expectProblem(
          await classify(`?model=${model}`, goldenJpegs[0]),
          503,
          'model-unavailable',
        );
        expect(problem.model).toBe(model);
        await expectStillServing();
      }
    });
  });
}
