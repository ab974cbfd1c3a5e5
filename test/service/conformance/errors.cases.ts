/**
 * Every error kind through the real service, on both runtimes: the status, the machine-readable code and its stable
 * type, as application/problem+json — and after each one the same service still classifies correctly. Limits:
 * CONFORMANCE_CONFIG (MAX_BODY_BYTES 4 MiB, MAX_MEGAPIXELS 4, MAX_BATCH 8). Runtime-neutral.
 */
import { afterEach, beforeAll, describe, expect } from 'vitest';
import { it } from './case.js';
import { CRIMSON, classifyRequest, expectProblem, expectStillServing, multipart } from './http.js';
import { CONFORMANCE_CONFIG, type ConformanceTarget } from './target.js';

const MAX_BODY_BYTES = Number(CONFORMANCE_CONFIG.MAX_BODY_BYTES);
const MAX_BATCH = Number(CONFORMANCE_CONFIG.MAX_BATCH);

/**
 * A GIF whose header claims 60000×60000 pixels (3.6 gigapixels) but holds one pixel's worth of data: decoding it
 * would try to allocate gigabytes, so the limit must be applied from the header.
 */
function gifClaiming(width: number, height: number): Uint8Array {
  const le16 = (n: number) => [n & 0xff, n >> 8];
  return new Uint8Array([
    ...new TextEncoder().encode('GIF89a'),
    ...le16(width),
    ...le16(height),
    0x80,
    0,
    0, // logical screen, 2-colour global table
    0,
    0,
    0,
    255,
    255,
    255,
    0x2c,
    0,
    0,
    0,
    0,
    ...le16(width),
    ...le16(height),
    0, // image descriptor
    2,
    2,
    0x44,
    0x01,
    0, // LZW data: one pixel
    0x3b,
  ]);
}

export function defineErrorCases(getTarget: () => ConformanceTarget): void {
  let target: ConformanceTarget;
  const crimsonPng = () => target.file(`generated/${CRIMSON.name}.png`);

  beforeAll(() => {
    target = getTarget();
  });

  afterEach(async () => {
    await expectStillServing(target);
  });

  describe('400 bad request', () => {
    for (const [query, parameter] of [
      ['top_k=0', 'top_k'],
      ['top_k=1001', 'top_k'],
      ['top_k=abc', 'top_k'],
      ['top_k=2.5', 'top_k'],
      ['top_k=-1', 'top_k'],
      ['top_k=', 'top_k'],
      ['model=', 'model'],
      ['model=tiny-10&top_k=11', 'top_k'], // more than that model's 10 classes
    ] as const) {
      it(`bad-parameter for ${query}`, async () => {
        const problem = await expectProblem(
          await target.send(classifyRequest(await crimsonPng(), { query })),
          400,
          'bad-parameter',
        );
        expect(problem.parameter).toBe(parameter);
      });
    }

    it('bad-parameter for an image field that is text, not a file', async () => {
      const form = new FormData();
      form.append('image', 'not a file');
      const problem = await expectProblem(
        await target.send(classifyRequest(form, { contentType: null })),
        400,
        'bad-parameter',
      );
      expect(problem.parameter).toBe('image');
    });

    it('empty-body for an empty body', async () => {
      await expectProblem(await target.send(classifyRequest(new Uint8Array(0))), 400, 'empty-body');
      await expectProblem(await target.send(classifyRequest(null)), 400, 'empty-body');
    });

    it('empty-body for a multipart body without image fields', async () => {
      const form = new FormData();
      form.append('picture', new Blob([await crimsonPng()]), 'x.png');
      await expectProblem(await target.send(classifyRequest(form, { contentType: null })), 400, 'empty-body');
    });

    it('malformed-body for a multipart body that does not parse', async () => {
      const response = await target.send(
        classifyRequest('this is not multipart', { contentType: 'multipart/form-data; boundary=----nothing-here' }),
      );
      await expectProblem(response, 400, 'malformed-body');
    });
  });

  describe('404 not found', () => {
    it('unknown-model names the models there are', async () => {
      const problem = await expectProblem(
        await target.send(classifyRequest(await crimsonPng(), { query: 'model=m9' })),
        404,
        'unknown-model',
      );
      expect(problem.model).toBe('m9');
      expect(problem.available).toEqual(expect.arrayContaining(['tiny', 'tiny-10']));
    });

    it('not-found for an unknown route', async () => {
      await expectProblem(
        await target.send(new Request('http://edge.test/v1/nope', { method: 'POST' })),
        404,
        'not-found',
      );
    });
  });

  describe('405 method not allowed', () => {
    it('method-not-allowed with Allow', async () => {
      const response = await target.send(
        new Request('http://edge.test/v1/classify', { method: 'PUT', body: await crimsonPng() }),
      );
      await expectProblem(response, 405, 'method-not-allowed');
      expect(response.headers.get('allow')).toBe('POST');
    });
  });

  describe('413 over a limit', () => {
    it('body-too-large for a multipart batch over the byte limit', async () => {
      const big = new Uint8Array(MAX_BODY_BYTES / 2 + 1);
      await expectProblem(
        await target.send(classifyRequest(multipart([{ bytes: big }, { bytes: big }]), { contentType: null })),
        413,
        'body-too-large',
      );
    });

    it('too-many-pixels for a real 14.7 MP photo, from its header', async () => {
      const photo = await target.file('shared/images/photos/safe-landing-5120x2880.jpg');
      const problem = await expectProblem(
        await target.send(classifyRequest(photo, { contentType: 'image/jpeg' })),
        413,
        'too-many-pixels',
      );
      expect(problem).toMatchObject({
        width: 5120,
        height: 2880,
        limit: Number(CONFORMANCE_CONFIG.MAX_MEGAPIXELS) * 1e6,
      });
    });

    it('too-many-pixels for a tiny file whose header claims 3.6 gigapixels', async () => {
      const problem = await expectProblem(
        await target.send(classifyRequest(gifClaiming(60000, 60000))),
        413,
        'too-many-pixels',
      );
      expect(problem).toMatchObject({ width: 60000, height: 60000 });
    });

    it('too-many-pixels inside a batch is that image’s error', async () => {
      const response = await target.send(
        classifyRequest(multipart([{ bytes: gifClaiming(60000, 60000) }, { bytes: await crimsonPng() }]), {
          contentType: null,
        }),
      );
      const { results } = (await response.json()) as {
        results: { error?: { status: number; code: string }; predictions?: unknown[] }[];
      };
      expect(response.status).toBe(200);
      expect(results[0].error).toMatchObject({ status: 413, code: 'too-many-pixels' });
      expect(results[1].predictions).toHaveLength(5);
    });

    it('batch-too-large for more image fields than MAX_BATCH, before decoding any', async () => {
      const png = await crimsonPng();
      const parts = Array.from({ length: MAX_BATCH + 1 }, () => ({ bytes: png }));
      const problem = await expectProblem(
        await target.send(classifyRequest(multipart(parts), { contentType: null })),
        413,
        'batch-too-large',
      );
      expect(problem).toMatchObject({ limit: MAX_BATCH, count: MAX_BATCH + 1 });
    });
  });

  describe('415 unsupported', () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'video/mp4']) {
      it(`unsupported-content-type for ${contentType}`, async () => {
        const problem = await expectProblem(
          await target.send(classifyRequest(await crimsonPng(), { contentType })),
          415,
          'unsupported-content-type',
        );
        expect(problem.contentType).toBe(contentType);
      });
    }

    it('unsupported-format for bytes that are no image', async () => {
      await expectProblem(
        await target.send(classifyRequest(new TextEncoder().encode('hello, world'), { contentType: 'image/png' })),
        415,
        'unsupported-format',
      );
    });

    it('unsupported-format for a real image format the service does not take (BMP)', async () => {
      // A valid 1×1 24-bit BMP.
      const bmp = new Uint8Array([
        0x42, 0x4d, 58, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 24, 0, 0, 0, 0, 0,
        4, 0, 0, 0, 0x13, 0x0b, 0, 0, 0x13, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 0,
      ]);
      await expectProblem(
        await target.send(classifyRequest(bmp, { contentType: 'image/bmp' })),
        415,
        'unsupported-format',
      );
    });
  });

  describe('422 corrupt image', () => {
    it('corrupt-image for a truncated PNG', async () => {
      const png = await crimsonPng();
      await expectProblem(await target.send(classifyRequest(png.subarray(0, png.length - 30))), 422, 'corrupt-image');
    });

    it('corrupt-image for a truncated real JPEG', async () => {
      const jpeg = await target.file('shared/images/imagenet-sample/n01440764_tench.JPEG');
      await expectProblem(
        await target.send(classifyRequest(jpeg.subarray(0, Math.floor(jpeg.length / 3)))),
        422,
        'corrupt-image',
      );
    });

    it('corrupt-image for a PNG whose data is overwritten', async () => {
      const png = (await crimsonPng()).slice();
      png.fill(0x5a, 40, png.length - 12);
      await expectProblem(await target.send(classifyRequest(png)), 422, 'corrupt-image');
    });
  });

  describe('503 model unavailable', () => {
    for (const [model, reason] of [
      ['tiny-missing', /missing/],
      ['tiny-corrupt', /session/],
      ['tiny-tampered', /sha256/],
    ] as const) {
      it(`model-unavailable for ${model}, every time (a failed load is retried, not cached)`, async () => {
        for (let attempt = 0; attempt < 2; attempt++) {
          const problem = await expectProblem(
            await target.send(classifyRequest(await crimsonPng(), { query: `model=${model}` })),
            503,
            'model-unavailable',
          );
          expect(problem.model).toBe(model);
          expect(problem.detail).toMatch(reason);
        }
      });
    }

    it('an image error takes precedence when no image reaches the broken model', async () => {
      await expectProblem(
        await target.send(classifyRequest(new TextEncoder().encode('nope'), { query: 'model=tiny-missing' })),
        415,
        'unsupported-format',
      );
    });
  });
}
