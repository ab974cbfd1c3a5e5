/**
 * Configuration through the running service, on both runtimes: each limit at its exact boundary, the default model,
 * the optional bearer auth and CORS — every case on a service built with another config (`target.withConfig`).
 * Runtime-neutral.
 */
import { beforeAll, describe, expect } from 'vitest';
import { it } from './case.js';
import {
  CRIMSON,
  classifyRequest,
  expectedSolidScores,
  expectPredictions,
  expectProblem,
  expectStillServing,
  type Fetch,
  multipart,
  okJson,
  type Prediction,
  tinyModelOf,
} from './http.js';
import type { ConformanceTarget } from './target.js';

export function defineConfigCases(getTarget: () => ConformanceTarget): void {
  let target: ConformanceTarget;
  const crimsonPng = () => target.file(`generated/${CRIMSON.name}.png`);

  beforeAll(() => {
    target = getTarget();
  });

  describe('limits at their boundaries', () => {
    it('MAX_BODY_BYTES: a body of exactly the limit passes, one byte more is refused', async () => {
      const png = await crimsonPng();
      await okJson(await (await target.withConfig({ maxBodyBytes: png.length }))(classifyRequest(png)));
      await expectProblem(
        await (await target.withConfig({ maxBodyBytes: png.length - 1 }))(classifyRequest(png)),
        413,
        'body-too-large',
      );
    });

    it('MAX_MEGAPIXELS: an image of exactly the limit passes, one pixel less refuses it', async () => {
      const pixels = CRIMSON.width * CRIMSON.height;
      await okJson(await (await target.withConfig({ maxImagePixels: pixels }))(classifyRequest(await crimsonPng())));
      const problem = await expectProblem(
        await (await target.withConfig({ maxImagePixels: pixels - 1 }))(classifyRequest(await crimsonPng())),
        413,
        'too-many-pixels',
      );
      expect(problem).toMatchObject({ width: CRIMSON.width, height: CRIMSON.height, limit: pixels - 1 });
    });

    it('MAX_BATCH: a batch of exactly the limit passes, one more is refused', async () => {
      const png = await crimsonPng();
      const parts = (n: number) => multipart(Array.from({ length: n }, () => ({ bytes: png })));
      const body = await okJson<{ results: unknown[] }>(
        await (await target.withConfig({ maxBatch: 3 }))(classifyRequest(parts(3), { contentType: null })),
      );
      expect(body.results).toHaveLength(3);
      await expectProblem(
        await (await target.withConfig({ maxBatch: 3 }))(classifyRequest(parts(4), { contentType: null })),
        413,
        'batch-too-large',
      );
    });

    it('DEFAULT_MODEL picks the model when the request names none', async () => {
      const body = await okJson<{ model: string; predictions: Prediction[] }>(
        await (await target.withConfig({ defaultModel: 'tiny-10' }))(classifyRequest(await crimsonPng())),
      );
      expect(body.model).toBe('tiny_classifier_10.fp32');
      expectPredictions(body.predictions, expectedSolidScores(CRIMSON.rgb, tinyModelOf(target, 'tiny-10')), 5);
    });

    // The Worker cannot refuse to start, so it answers; the Node build checks its manifest at start and
    // refuses to.
    it('a default model that is not deployed: 404 unknown-model (Worker); the Node build refuses to start', async () => {
      if (target.name === 'node') {
        await expect(target.withConfig({ defaultModel: 'm0' })).rejects.toThrow(/DEFAULT_MODEL m0 is not built in /);
        return;
      }
      await expectProblem(
        await (await target.withConfig({ defaultModel: 'm0' }))(classifyRequest(await crimsonPng())),
        404,
        'unknown-model',
      );
    });
  });

  describe('bearer auth (API_TOKEN)', () => {
    const token = 'test-token-123';
    let authed: Fetch;
    beforeAll(async () => {
      authed = await target.withConfig({ apiToken: token });
    });
    const withAuth = (value: string) => ({ headers: { authorization: value } });

    it('is off by default', async () => {
      await expectStillServing(target);
    });

    it('refuses /v1/* without a token, with a wrong one, or with a malformed header', async () => {
      const png = await crimsonPng();
      for (const [headers, detail] of [
        [{}, /send Authorization/],
        [withAuth(`Bearer wrong-token`), /not valid/],
        [withAuth('Basic dXNlcjpwYXNz'), /not a bearer token/],
        [withAuth('Bearer'), /not a bearer token/],
      ] as const) {
        const response = await authed(classifyRequest(png, headers));
        expect((await expectProblem(response, 401, 'unauthorized')).detail).toMatch(detail);
        expect(response.headers.get('www-authenticate')).toMatch(/^Bearer/);
        await expectProblem(await authed(new Request('http://service.test/v1/models', headers)), 401, 'unauthorized');
      }
      // The same app still serves an authorized request.
      await expectStillServing(target, (request) => {
        request.headers.set('authorization', `Bearer ${token}`);
        return authed(request);
      });
    });

    it('serves with the right token, and leaves /healthz open', async () => {
      const body = await okJson<{ predictions: Prediction[] }>(
        await authed(classifyRequest(await crimsonPng(), withAuth(`Bearer ${token}`))),
      );
      expectPredictions(body.predictions, expectedSolidScores(CRIMSON.rgb, tinyModelOf(target, 'tiny')), 5);
      await okJson(await authed(new Request('http://service.test/v1/models', withAuth(`Bearer ${token}`))));
      await okJson(await authed(new Request('http://service.test/healthz')));
    });
  });

  describe('CORS (CORS_ORIGINS)', () => {
    const origin = 'https://app.example';
    let cors: Fetch;
    beforeAll(async () => {
      cors = await target.withConfig({ corsOrigins: [origin, 'https://other.example'] });
    });

    it('is off by default', async () => {
      const response = await (await target.withConfig({}))(
        new Request('http://service.test/v1/models', { headers: { origin } }),
      );
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('answers a preflight for an allowed origin', async () => {
      const response = await cors(
        new Request('http://service.test/v1/classify', {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type, authorization',
          },
        }),
      );
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe(origin);
      expect(response.headers.get('access-control-allow-methods')).toContain('POST');
      expect(response.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    });

    it('adds the headers to a real response, exposing Server-Timing, and not for other origins', async () => {
      const allowed = await cors(classifyRequest(await crimsonPng(), { headers: { origin } }));
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('access-control-allow-origin')).toBe(origin);
      expect(allowed.headers.get('access-control-expose-headers')).toContain('Server-Timing');
      const other = await cors(
        new Request('http://service.test/v1/models', { headers: { origin: 'https://evil.example' } }),
      );
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('"*" allows any origin', async () => {
      const response = await (await target.withConfig({ corsOrigins: ['*'] }))(
        new Request('http://service.test/v1/models', { headers: { origin: 'https://any.example' } }),
      );
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
    });
  });
}
