/**
 * Configuration: parsing the variables, a malformed one, the limits at their exact boundaries, the default model,
 * and the optional bearer auth and CORS — each through the same app the worker builds, inside workerd, with the
 * real bindings and another config.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, parseConfig } from '../../worker/config.js';
import { createWorkerdHandler, type Env } from '../../worker/entries/workerd.js';
import { expectStillServing, fixture, tinyModel } from './helpers.js';
import {
  classifyRequest,
  CRIMSON,
  expectedSolidScores,
  expectPredictions,
  expectProblem,
  multipart,
  okJson,
  type Prediction,
} from '../conformance/http.js';
import { appWith } from './app-with.js';

const crimsonPng = () => fixture(`generated/${CRIMSON.name}.png`);

describe('parseConfig', () => {
  it('takes the defaults for unset or empty variables', () => {
    expect(parseConfig({})).toEqual(DEFAULT_CONFIG);
    expect(parseConfig({ MAX_BODY_BYTES: '', API_TOKEN: ' ', CORS_ORIGINS: '' })).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG).toEqual({
      maxBodyBytes: 16 * 1024 * 1024,
      maxImagePixels: 16_000_000,
      maxBatch: 8,
      maxDecodeBytes: 40 * 1024 * 1024,
      defaultModel: 'm0',
      fetchTimeoutMs: 5000,
      resultCache: true,
    });
  });

  it('reads every variable', () => {
    expect(
      parseConfig({
        MAX_BODY_BYTES: '1048576',
        MAX_MEGAPIXELS: '2.5',
        MAX_BATCH: '4',
        MAX_DECODE_MIB: '12.5',
        MAX_LOADED_MODELS: '2',
        DEFAULT_MODEL: 'm1',
        API_TOKEN: 'secret-token',
        CORS_ORIGINS: 'https://a.example, https://b.example',
        FETCH_ALLOWED_HOSTS: 'images.example.com, *.cdn.example, 127.0.0.1',
        FETCH_TIMEOUT_MS: '2500',
        RESULT_CACHE: 'off',
      }),
    ).toEqual({
      maxBodyBytes: 1048576,
      maxImagePixels: 2_500_000,
      maxBatch: 4,
      maxDecodeBytes: 12.5 * 1024 * 1024,
      maxLoadedModels: 2,
      defaultModel: 'm1',
      apiToken: 'secret-token',
      corsOrigins: ['https://a.example', 'https://b.example'],
      fetchAllowedHosts: { exact: new Set(['images.example.com', '127.0.0.1']), suffixes: ['.cdn.example'] },
      fetchTimeoutMs: 2500,
      resultCache: false,
    });
  });

  for (const [name, value] of [
    ['MAX_BODY_BYTES', '16MB'],
    ['MAX_BODY_BYTES', '-1'],
    ['MAX_BODY_BYTES', '1.5'],
    ['MAX_MEGAPIXELS', '0'],
    ['MAX_MEGAPIXELS', 'lots'],
    ['MAX_BATCH', '0'],
    ['MAX_BATCH', 'Infinity'],
    ['MAX_DECODE_MIB', '0'],
    ['MAX_DECODE_MIB', '40MB'],
    ['MAX_LOADED_MODELS', '0'],
    ['FETCH_ALLOWED_HOSTS', 'https://images.example.com/'],
    ['FETCH_TIMEOUT_MS', '5s'],
    ['RESULT_CACHE', 'maybe'],
    ['MAX_LOADED_MODELS', '1.5'],
  ] as const) {
    it(`refuses ${name}=${JSON.stringify(value)}`, () => {
      expect(() => parseConfig({ [name]: value })).toThrow(ConfigError);
      expect(() => parseConfig({ [name]: value })).toThrow(name);
    });
  }

  it('the entry answers 500 invalid-config to every request while a variable is malformed', async () => {
    const handler = createWorkerdHandler();
    const badEnv = { ...env, MAX_BATCH: 'eight' } as unknown as Env;
    for (const path of ['/healthz', '/v1/models']) {
      const response = await handler.fetch!(
        new Request(`http://edge.test${path}`) as never,
        badEnv,
        createExecutionContext(),
      );
      const problem = await expectProblem(response as unknown as Response, 500, 'invalid-config');
      expect(problem.detail).toMatch(/MAX_BATCH/);
    }
  });
});

describe('limits at their boundaries', () => {
  it('MAX_BODY_BYTES: a body of exactly the limit passes, one byte more is refused', async () => {
    const png = await crimsonPng();
    await okJson(await appWith({ maxBodyBytes: png.length })(classifyRequest(png)));
    await expectProblem(await appWith({ maxBodyBytes: png.length - 1 })(classifyRequest(png)), 413, 'body-too-large');
  });

  it('MAX_MEGAPIXELS: an image of exactly the limit passes, one pixel less refuses it', async () => {
    const pixels = CRIMSON.width * CRIMSON.height;
    await okJson(await appWith({ maxImagePixels: pixels })(classifyRequest(await crimsonPng())));
    const problem = await expectProblem(
      await appWith({ maxImagePixels: pixels - 1 })(classifyRequest(await crimsonPng())),
      413,
      'too-many-pixels',
    );
    expect(problem).toMatchObject({ width: CRIMSON.width, height: CRIMSON.height, limit: pixels - 1 });
  });

  it('MAX_BATCH: a batch of exactly the limit passes, one more is refused', async () => {
    const png = await crimsonPng();
    const parts = (n: number) => multipart(Array.from({ length: n }, () => ({ bytes: png })));
    const body = await okJson<{ results: unknown[] }>(
      await appWith({ maxBatch: 3 })(classifyRequest(parts(3), { contentType: null })),
    );
    expect(body.results).toHaveLength(3);
    await expectProblem(
      await appWith({ maxBatch: 3 })(classifyRequest(parts(4), { contentType: null })),
      413,
      'batch-too-large',
    );
  });

  it('DEFAULT_MODEL picks the model when the request names none', async () => {
    const body = await okJson<{ model: string; predictions: Prediction[] }>(
      await appWith({ defaultModel: 'tiny-10' })(classifyRequest(await crimsonPng())),
    );
    expect(body.model).toBe('tiny_classifier_10.fp32');
    expectPredictions(body.predictions, expectedSolidScores(CRIMSON.rgb, tinyModel('tiny-10')), 5);
  });

  it('a default model that is not deployed answers 404 unknown-model', async () => {
    await expectProblem(
      await appWith({ defaultModel: 'm0' })(classifyRequest(await crimsonPng())),
      404,
      'unknown-model',
    );
  });
});

describe('bearer auth (API_TOKEN)', () => {
  const token = 'test-token-123';
  const authed = appWith({ apiToken: token });
  const withAuth = (value: string) => ({ headers: { authorization: value } });

  it('is off by default', async () => {
    await expectStillServing();
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
      await expectProblem(await authed(new Request('http://edge.test/v1/models', headers)), 401, 'unauthorized');
    }
    // The same app still serves an authorized request.
    await expectStillServing((request) => {
      request.headers.set('authorization', `Bearer ${token}`);
      return authed(request);
    });
  });

  it('serves with the right token, and leaves /healthz open', async () => {
    const body = await okJson<{ predictions: Prediction[] }>(
      await authed(classifyRequest(await crimsonPng(), withAuth(`Bearer ${token}`))),
    );
    expectPredictions(body.predictions, expectedSolidScores(CRIMSON.rgb, tinyModel('tiny')), 5);
    await okJson(await authed(new Request('http://edge.test/v1/models', withAuth(`Bearer ${token}`))));
    await okJson(await authed(new Request('http://edge.test/healthz')));
  });
});

describe('CORS (CORS_ORIGINS)', () => {
  const origin = 'https://app.example';
  const cors = appWith({ corsOrigins: [origin, 'https://other.example'] });

  it('is off by default', async () => {
    const response = await appWith({})(new Request('http://edge.test/v1/models', { headers: { origin } }));
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers a preflight for an allowed origin', async () => {
    const response = await cors(
      new Request('http://edge.test/v1/classify', {
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
      new Request('http://edge.test/v1/models', { headers: { origin: 'https://evil.example' } }),
    );
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('"*" allows any origin', async () => {
    const response = await appWith({ corsOrigins: ['*'] })(
      new Request('http://edge.test/v1/models', { headers: { origin: 'https://any.example' } }),
    );
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });
});
