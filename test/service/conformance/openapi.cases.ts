/**
 * GET /openapi.json and the typed client (worker/client/), run against both builds like cases.ts: real responses of
 * each kind (200 single, batch and by URL, models, and problems 400/404/405/413/415/422/503) are checked against the
 * document the service itself serves, and requests go through the client, as an API user's would. Runtime-neutral.
 */
import { beforeAll, describe, expect } from 'vitest';
import { it } from './case.js';
import { ApiProblemError, type Client, createClient } from '../../../worker/client/index.js';
import { PROBLEM_CODES } from '../../../worker/api/problems.js';
import { type ResponseChecker, responseChecker } from './openapi-check.js';
import { CONFORMANCE_CONFIG, CONFORMANCE_MODELS, type ConformanceTarget } from './target.js';

const IMAGE = 'images/imagenet-sample/n01440764_tench.JPEG';
const OTHER_IMAGE = 'images/imagenet-sample/n01560419_bulbul.JPEG';
const MAX_BODY_BYTES = Number(CONFORMANCE_CONFIG.MAX_BODY_BYTES);

/** `origin()`: the image origin's base URL (test/helpers/image-origin.ts). */
export function defineOpenApiSuite(getTarget: () => ConformanceTarget, origin: () => string): void {
  let target: ConformanceTarget;
  let document: Record<string, unknown>;
  let checker: ResponseChecker;
  let client: Client;
  let jpeg: Uint8Array;
  let otherJpeg: Uint8Array;
  /** Every response the client receives, kept so that each can be checked against the document. */
  let received: Response[] = [];

  const classify = (query: string, body: BodyInit, headers: Record<string, string> = {}) =>
    target.fetch(`/v1/classify${query}`, { method: 'POST', body, headers });

  /** What the client threw: the call must fail with a problem. */
  async function problemFrom(call: Promise<unknown>): Promise<ApiProblemError> {
    const error = await call.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(ApiProblemError);
    return error as ApiProblemError;
  }

  beforeAll(async () => {
    target = getTarget();
    const response = await target.fetch('/openapi.json');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    document = (await response.json()) as Record<string, unknown>;
    checker = responseChecker(document);
    client = createClient({
      baseUrl: '',
      fetch: async (url, init) => {
        const answer = await target.fetch(url, init);
        received.push(answer.clone());
        return answer;
      },
    });
    jpeg = await target.shared(IMAGE);
    otherJpeg = await target.shared(OTHER_IMAGE);
  });

  describe('GET /openapi.json and the typed client', () => {
    it('is OpenAPI 3.1 describing every route, with every problem code of worker/service/problems.ts', () => {
      expect(document.openapi).toBe('3.1.0');
      const paths = document.paths as Record<string, Record<string, unknown>>;
      expect(Object.keys(paths).sort()).toEqual([
        '/',
        '/docs',
        '/healthz',
        '/openapi.json',
        '/readyz',
        '/v1/classify',
        '/v1/embed',
        '/v1/models',
      ]);
      const components = document.components as {
        schemas: { Problem: { properties: { code: { enum: string[] } } } };
        examples: Record<string, { value: { code: string; status: number; type: string } }>;
      };
      expect(components.schemas.Problem.properties.code.enum).toEqual([...PROBLEM_CODES]);
      for (const code of PROBLEM_CODES) {
        expect(components.examples[`problem-${code}`].value).toMatchObject({
          code,
          type: `tag:efficientvit-edge,2026:problem:${code}`,
        });
      }
      const parameters = (paths['/v1/classify'].post as { parameters: { name: string }[] }).parameters;
      expect(parameters.map((parameter) => parameter.name)).toEqual([
        'model',
        'top_k',
        'include',
        'fallback',
        'Cache-Control',
      ]);
    });

    it('client.classify: one image, a 200 that matches ClassifyResult', async () => {
      received = [];
      const result = await client.classify(new Blob([jpeg], { type: 'image/jpeg' }), {
        model: CONFORMANCE_MODELS.m0,
        topK: 3,
        include: ['input'],
      });
      expect(result.model).toBe('efficientvit_m0.fp32');
      expect(result.predictions).toHaveLength(3);
      expect(result.input).toMatch(/^data:image\/png;base64,/);
      await checker.check('post', '/v1/classify', received[0]);
      // Raw bytes with no type go as application/octet-stream, answered the same way.
      const again = await client.classify(jpeg, {
        model: CONFORMANCE_MODELS.m0,
        topK: 3,
        headers: { 'cache-control': 'no-store' },
      });
      expect(again.predictions).toEqual(result.predictions);
      expect(received[1].headers.get('x-cache'), 'no-store: computed, not looked up').toBe('miss');
      expect(again.timing.inference_ms).toBeGreaterThanOrEqual(0);
      await checker.check('post', '/v1/classify', received[1]);
    });

    it('client.classifyBatch: multipart, in order, a failed image in its slot, matching BatchResult', async () => {
      received = [];
      const result = await client.classifyBatch([
        { image: jpeg, filename: 'tench.jpg' },
        { image: new TextEncoder().encode('not an image'), filename: 'notes.txt' },
        otherJpeg.buffer.slice(otherJpeg.byteOffset, otherJpeg.byteOffset + otherJpeg.byteLength) as ArrayBuffer,
      ]);
      expect(result.results.map((item) => item.filename)).toEqual(['tench.jpg', 'notes.txt', 'image-2']);
      const [tench, notes, other] = result.results;
      expect('predictions' in tench && tench.predictions).toHaveLength(5);
      expect('error' in notes && notes.error.code).toBe('unsupported-format');
      expect('predictions' in other && other.predictions).toHaveLength(5);
      await checker.check('post', '/v1/classify', received[0]);
    });

    it('client.classifyUrl: one URL and a batch of URLs', async () => {
      received = [];
      const one = await client.classifyUrl(`${origin()}/image/${IMAGE}`, { topK: 2 });
      expect(one.predictions).toHaveLength(2);
      const many = await client.classifyUrl([`${origin()}/image/${IMAGE}`, `${origin()}/status/404`]);
      expect(many.results.map((item) => item.url)).toEqual([`${origin()}/image/${IMAGE}`, `${origin()}/status/404`]);
      const failed = many.results[1];
      expect('error' in failed && failed.error).toMatchObject({ code: 'fetch-failed', status: 502 });
      for (const response of received) await checker.check('post', '/v1/classify', response);
    });

    it('POST /v1/embed: JSON, base64, a batch and 501 no-embedding match the document', async () => {
      const embed = (query: string, body: BodyInit, contentType?: string) =>
        target.fetch(`/v1/embed${query}`, {
          method: 'POST',
          body,
          ...(contentType ? { headers: { 'content-type': contentType } } : {}),
        });
      const form = new FormData();
      form.append('image', new Blob([jpeg]), 'tench.jpg');
      form.append('image', new Blob([new TextEncoder().encode('not an image')]), 'notes.txt');
      const answers = [
        await embed(`?model=${CONFORMANCE_MODELS.m0}`, jpeg, 'image/jpeg'),
        await embed(`?model=${CONFORMANCE_MODELS.m0}&encoding=base64`, jpeg, 'image/jpeg'),
        await embed(`?model=${CONFORMANCE_MODELS.m0}`, form),
        await embed(`?model=${CONFORMANCE_MODELS.tiny}`, jpeg, 'image/jpeg'),
      ];
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200, 501]);
      for (const answer of answers) await checker.check('post', '/v1/embed', answer);
    });

    it('client.models and GET /healthz match their schemas', async () => {
      received = [];
      const models = await client.models();
      expect(models.default).toBe(CONFORMANCE_MODELS.tiny);
      expect(models.models.map((model) => model.name)).toContain(CONFORMANCE_MODELS.m0);
      await checker.check('get', '/v1/models', received[0]);
      await checker.check('get', '/healthz', await target.fetch('/healthz'));
    });

    it('problems come back as ApiProblemError and match the document: 400, 404, 413, 415, 422, 503', async () => {
      received = [];
      // Thunks, sent one at a time: a promise made early would reject before anything awaits it.
      const cases: [() => Promise<unknown>, number, string][] = [
        [() => client.classify(jpeg, { topK: 0 }), 400, 'bad-parameter'],
        [() => client.classify(new Uint8Array(0)), 400, 'empty-body'],
        [() => client.classify(jpeg, { model: 'm9' }), 404, 'unknown-model'],
        [() => client.classify(new Uint8Array(MAX_BODY_BYTES + 1)), 413, 'body-too-large'],
        [() => client.classify(new TextEncoder().encode('definitely not an image')), 415, 'unsupported-format'],
        [() => client.classify(jpeg.subarray(0, jpeg.length / 2)), 422, 'corrupt-image'],
        [() => client.classify(jpeg, { model: CONFORMANCE_MODELS.missing }), 503, 'model-unavailable'],
      ];
      for (const [call, status, code] of cases) {
        const error = await problemFrom(call());
        expect(error).toMatchObject({ status, code, type: `tag:efficientvit-edge,2026:problem:${code}` });
        expect(error.detail.length).toBeGreaterThan(0);
        expect(error.problem.status).toBe(status);
      }
      expect(received).toHaveLength(cases.length);
      for (const response of received) await checker.check('post', '/v1/classify', response);
    });

    it('problems outside the client: 415 content type, 404 route, 405 method, multipart 400', async () => {
      await checker.check('post', '/v1/classify', await classify('', 'hello', { 'content-type': 'text/plain' }));
      const form = new FormData();
      form.append('image', 'text, not a file');
      await checker.check('post', '/v1/classify', await classify('', form));
      await checker.check('get', '/', await target.fetch('/', { method: 'GET' }));
      const wrongMethod = await target.fetch('/v1/models', { method: 'DELETE' });
      expect(wrongMethod.status).toBe(405);
      await checker.check('get', '/v1/models', wrongMethod);
      // A document that says too little fails the check: an undeclared status is caught.
      const missing = await target.fetch('/v2/nothing');
      expect(missing.status).toBe(404);
      await expect(checker.check('get', '/healthz', missing)).rejects.toThrow(/declares 404/);
    });

    it('GET /docs: the reference page, its script and styles served by the service (offline), pointed at /openapi.json', async () => {
      const response = await target.fetch('/docs');
      await checker.check('get', '/docs', response.clone());
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      const html = await response.text();
      const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map(([, url]) => url);
      expect(assets.sort()).toEqual(['/docs/init.js', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css']);
      for (const asset of assets) {
        const loaded = await target.fetch(asset);
        expect(loaded.status, asset).toBe(200);
        expect(loaded.headers.get('content-type'), asset).toMatch(
          asset.endsWith('.css') ? /^text\/css/ : /^text\/javascript/,
        );
        const text = await loaded.text();
        if (asset.endsWith('init.js')) expect(text).toMatch(/url: '\/openapi\.json'.*validatorUrl: null/);
        if (asset.endsWith('bundle.js')) expect(text).toContain('SwaggerUIBundle');
      }
      const missing = await target.fetch('/docs/swagger-ui.js.map');
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ code: 'not-found' });
    });
  });
}
