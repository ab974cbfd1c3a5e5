/**
 * The service's routes on both runtimes, on the tiny real classifier whose scores for a solid colour are computed
 * here: health, the model listing, single images in every lossless format, top_k, named models and their labels,
 * multipart batches, unknown routes and methods. Runtime-neutral.
 */
import { beforeAll, describe, expect } from 'vitest';
import { it } from './case.js';
import {
  CRIMSON,
  classifyRequest,
  expectedSolidScores,
  expectPredictions,
  expectProblem,
  multipart,
  okJson,
  type Prediction,
  tinyModelOf,
} from './http.js';
import type { ConformanceTarget } from './target.js';
import { LOSSLESS_FORMATS, SOLID_COLOURS } from './test-data.js';

interface ModelsBody {
  backend: string;
  default: string;
  models: {
    name: string;
    id: string;
    variant: string;
    precision: string;
    bytes: number;
    sha256: string;
    source: { checkpoint: string; kind: string; note: string };
    preprocessing: Record<string, unknown>;
    classes: number;
    default: boolean;
    loaded: boolean;
  }[];
}

interface ClassifyBody {
  model: string;
  predictions: Prediction[];
  timing: Record<string, number>;
}

export function defineServiceCases(getTarget: () => ConformanceTarget): void {
  let target: ConformanceTarget;
  const get = (path: string, init?: RequestInit) => target.send(new Request(`http://service.test${path}`, init));

  beforeAll(() => {
    target = getTarget();
  });

  describe('GET /healthz', () => {
    it('answers ok without loading anything', async () => {
      const response = await get('/healthz');
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
    });

    it('answers HEAD like GET, without a body', async () => {
      const response = await get('/healthz', { method: 'HEAD' });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('');
    });
  });

  describe('GET /v1/models', () => {
    it('lists every manifest model with provenance, preprocessing and load state', async () => {
      const before = (await (await get('/v1/models')).json()) as ModelsBody;
      expect(before.backend).toEqual(expect.any(String));
      expect(before.default).toBe('tiny');
      const tiny = before.models.find((m) => m.name === 'tiny')!;
      expect(tiny).toMatchObject({
        id: 'tiny_classifier.fp32',
        variant: 'm0',
        precision: 'fp32',
        classes: 1000,
        default: true,
      });
      expect(tiny.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(tiny.source.kind).toBe('synthetic-fixture');
      expect(tiny.source.note).toMatch(/not trained/);
      expect(tiny.preprocessing).toMatchObject({ resizeShortSide: 256, centerCrop: 224, interpolation: 'bicubic' });
      expect(before.models.map((m) => m.name)).toEqual(
        expect.arrayContaining(['tiny', 'tiny-10', 'tiny-missing', 'tiny-corrupt', 'tiny-tampered']),
      );

      // A classify request loads the model; the listing then says so, and only for that model.
      await okJson(
        await target.send(
          classifyRequest(await target.file(`generated/${CRIMSON.name}.png`), { query: 'model=tiny-10' }),
        ),
      );
      const after = (await (await get('/v1/models')).json()) as ModelsBody;
      expect(after.models.find((m) => m.name === 'tiny-10')!.loaded).toBe(true);
      expect(after.models.find((m) => m.name === 'tiny-missing')!.loaded).toBe(false);
    });
  });

  describe('POST /v1/classify, one image', () => {
    for (const colour of SOLID_COLOURS) {
      for (const format of LOSSLESS_FORMATS) {
        it(`classifies a ${colour.width}×${colour.height} ${colour.name} ${format} exactly`, async () => {
          const response = await target.send(
            classifyRequest(await target.file(`generated/${colour.name}.${format}`), {
              contentType: `image/${format}`,
            }),
          );
          const body = await okJson<ClassifyBody>(response);
          expect(body.model).toBe('tiny_classifier.fp32');
          expect(body.predictions).toHaveLength(5);
          expectPredictions(body.predictions, expectedSolidScores(colour.rgb, tinyModelOf(target, 'tiny')), 5);
          expect(body.predictions[0]).toMatchObject({
            synset: expect.stringMatching(/^n\d{8}$/),
            label: expect.any(String),
          });
        });
      }
    }

    it('classifies a JPEG (lossy: same top class as the exact colour)', async () => {
      const response = await target.send(
        classifyRequest(await target.file(`generated/${CRIMSON.name}.jpg`), { contentType: 'image/jpeg' }),
      );
      const body = await okJson<ClassifyBody>(response);
      expect(body.predictions[0].index).toBe(expectPredictionsTop1(CRIMSON.rgb));
    });

    it('sniffs the format from the bytes, whatever the Content-Type says, and accepts no Content-Type', async () => {
      const png = await target.file(`generated/${CRIMSON.name}.png`);
      const expected = expectedSolidScores(CRIMSON.rgb, tinyModelOf(target, 'tiny'));
      for (const contentType of ['image/jpeg', 'application/octet-stream', null]) {
        const body = await okJson<ClassifyBody>(await target.send(classifyRequest(png, { contentType })));
        expectPredictions(body.predictions, expected, 5);
      }
    });

    it('returns top_k predictions sorted by score, and all 1000 with top_k=1000', async () => {
      const png = await target.file(`generated/${CRIMSON.name}.png`);
      const expected = expectedSolidScores(CRIMSON.rgb, tinyModelOf(target, 'tiny'));
      const one = await okJson<ClassifyBody>(await target.send(classifyRequest(png, { query: 'top_k=1' })));
      expectPredictions(one.predictions, expected, 1);
      const all = await okJson<ClassifyBody>(await target.send(classifyRequest(png, { query: 'top_k=1000' })));
      expect(all.predictions).toHaveLength(1000);
      expect(new Set(all.predictions.map((p) => p.index)).size).toBe(1000);
      expect(all.predictions.reduce((sum, p) => sum + p.score, 0)).toBeCloseTo(1, 6);
      for (let i = 1; i < all.predictions.length; i++)
        expect(all.predictions[i - 1].score).toBeGreaterThanOrEqual(all.predictions[i].score);
    });

    it('uses the named model and its own labels', async () => {
      const response = await target.send(
        classifyRequest(await target.file(`generated/${CRIMSON.name}.png`), { query: 'model=tiny-10&top_k=10' }),
      );
      const body = await okJson<ClassifyBody>(response);
      expect(body.model).toBe('tiny_classifier_10.fp32');
      expectPredictions(body.predictions, expectedSolidScores(CRIMSON.rgb, tinyModelOf(target, 'tiny-10')), 10);
      const top = body.predictions[0];
      expect(top).toMatchObject({ synset: `s${top.index}`, label: `class ${top.index}` });
    });
  });

  /** The tiny model's most probable class for a solid colour. */
  function expectPredictionsTop1(rgb: readonly [number, number, number]): number {
    const scores = expectedSolidScores(rgb, tinyModelOf(target, 'tiny'));
    return scores.indexOf(Math.max(...scores));
  }

  describe('POST /v1/classify, a multipart batch', () => {
    it('answers each image in order, each with its own exact scores', async () => {
      const parts = await Promise.all(
        SOLID_COLOURS.map(async (colour, i) => ({
          bytes: await target.file(`generated/${colour.name}.${LOSSLESS_FORMATS[i % LOSSLESS_FORMATS.length]}`),
          filename: `${colour.name}.img`,
        })),
      );
      const response = await target.send(classifyRequest(multipart(parts), { query: 'top_k=3', contentType: null }));
      const body = await okJson<{
        model: string;
        results: { filename: string; predictions: Prediction[] }[];
        timing: Record<string, number>;
      }>(response);
      expect(body.model).toBe('tiny_classifier.fp32');
      expect(body.results.map((r) => r.filename)).toEqual(SOLID_COLOURS.map((c) => `${c.name}.img`));
      SOLID_COLOURS.forEach((colour, i) =>
        expectPredictions(body.results[i].predictions, expectedSolidScores(colour.rgb, tinyModelOf(target, 'tiny')), 3),
      );
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
    });

    it('gives a failing image its own problem and still classifies the others', async () => {
      const crimson = await target.file(`generated/${CRIMSON.name}.png`);
      const blue = SOLID_COLOURS[2];
      const text = new TextEncoder().encode('not an image at all');
      const truncated = crimson.subarray(0, 60);
      const parts = [
        { bytes: crimson, filename: 'a.png' },
        { bytes: text, filename: 'b.txt' },
        { bytes: truncated, filename: 'c.png' },
        { bytes: await target.file(`generated/${blue.name}.webp`), filename: 'd.webp' },
        { bytes: new Uint8Array(0), filename: 'e.png' },
      ];
      const response = await target.send(classifyRequest(multipart(parts), { contentType: null }));
      const { results } = await okJson<{
        results: { filename: string; predictions?: Prediction[]; error?: Record<string, unknown> }[];
      }>(response);
      expect(results.map((r) => r.filename)).toEqual(['a.png', 'b.txt', 'c.png', 'd.webp', 'e.png']);
      expectPredictions(results[0].predictions!, expectedSolidScores(CRIMSON.rgb, tinyModelOf(target, 'tiny')), 5);
      expect(results[1].error).toMatchObject({
        status: 415,
        code: 'unsupported-format',
        type: 'tag:efficientvit-edge,2026:problem:unsupported-format',
      });
      expect(results[2].error).toMatchObject({ status: 422, code: 'corrupt-image' });
      expectPredictions(results[3].predictions!, expectedSolidScores(blue.rgb, tinyModelOf(target, 'tiny')), 5);
      expect(results[4].error).toMatchObject({ status: 400, code: 'empty-body' });
      expect(results[1].predictions).toBeUndefined();
    });

    it('answers 200 with only errors when no image decodes', async () => {
      const response = await target.send(
        classifyRequest(multipart([{ bytes: new TextEncoder().encode('GIF89a') }]), { contentType: null }),
      );
      const { results } = await okJson<{ results: { error?: { code: string } }[] }>(response);
      expect(results).toHaveLength(1);
      expect(results[0].error?.code).toBe('corrupt-image');
    });

    it('ignores fields other than "image"', async () => {
      const form = multipart([{ bytes: await target.file(`generated/${CRIMSON.name}.gif`) }]);
      form.append('note', 'hello');
      const response = await target.send(classifyRequest(form, { contentType: null }));
      const { results } = await okJson<{ results: unknown[] }>(response);
      expect(results).toHaveLength(1);
    });
  });

  describe('unknown routes and methods', () => {
    it('answers 404 not-found for an unknown path', async () => {
      await expectProblem(await get('/v2/classify'), 404, 'not-found');
      await expectProblem(await get('/index.html'), 404, 'not-found');
      // The built files beside the models are not routes: only GET / serves the page.
      await expectProblem(await get('/page/index.html'), 404, 'not-found');
      await expectProblem(await get('/manifest.json'), 404, 'not-found');
    });

    it('answers POST / with 405 (GET and HEAD serve the demo page)', async () => {
      const response = await get('/', { method: 'POST' });
      await expectProblem(response, 405, 'method-not-allowed');
      expect(response.headers.get('allow')).toBe('GET, HEAD');
      const head = await get('/', { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
    });

    it('answers 405 with Allow for a known path and a wrong method', async () => {
      const onClassify = await get('/v1/classify');
      await expectProblem(onClassify, 405, 'method-not-allowed');
      expect(onClassify.headers.get('allow')).toBe('POST');
      const onModels = await get('/v1/models', { method: 'DELETE' });
      await expectProblem(onModels, 405, 'method-not-allowed');
      expect(onModels.headers.get('allow')).toBe('GET, HEAD');
    });
  });
}
