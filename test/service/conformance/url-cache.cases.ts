/**
 * Classify by URL and the result cache, run against both builds like cases.ts: the service fetches from a real local
 * HTTP server (test/helpers/image-origin.ts) listed in FETCH_ALLOWED_HOSTS as 127.0.0.1 (an exact entry, so plain
 * http and a loopback address are allowed for it and for nothing else). Runtime-neutral.
 */
import { beforeAll, describe, expect } from 'vitest';
import { it } from './case.js';
import { expectProblem, okJson } from './http.js';
import { CONFORMANCE_CONFIG, CONFORMANCE_MODELS, type ConformanceTarget } from './target.js';
import type { Prediction } from '../../../worker/api/common.js';

const IMAGE = 'images/imagenet-sample/n01440764_tench.JPEG';
const OTHER_IMAGE = 'images/imagenet-sample/n01560419_bulbul.JPEG';
/** Used by no other case, so its first requests here are certain to be misses. */
const EMBED_IMAGE = 'images/imagenet-sample/n02843684_birdhouse.JPEG';

/** `origin()`: the image origin's base URL, http://127.0.0.1:PORT. */
export function defineUrlAndCacheSuite(getTarget: () => ConformanceTarget, origin: () => string): void {
  let target: ConformanceTarget;
  let jpeg: Uint8Array;
  const model = CONFORMANCE_MODELS.m0;

  const classifyJson = (body: unknown, query = `?model=${model}`, headers: Record<string, string> = {}) =>
    target.fetch(`/v1/classify${query}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', ...headers },
    });
  const upload = (bytes: Uint8Array, query: string, headers: Record<string, string> = {}) =>
    target.fetch(`/v1/classify${query}`, {
      method: 'POST',
      body: bytes,
      headers: { 'content-type': 'image/jpeg', ...headers },
    });

  beforeAll(async () => {
    target = getTarget();
    jpeg = await target.shared(IMAGE);
  });

  describe('classify by URL', () => {
    it('a URL is answered exactly as the upload of the same bytes', async () => {
      const direct = await upload(jpeg, `?model=${model}&top_k=10`, { 'cache-control': 'no-store' });
      expect(direct.status).toBe(200);
      const expected = ((await direct.json()) as { predictions: Prediction[] }).predictions;
      const response = await classifyJson({ url: `${origin()}/image/${IMAGE}` }, `?model=${model}&top_k=10`, {
        'cache-control': 'no-store',
      });
      expect(response.status, await response.clone().text()).toBe(200);
      const body = (await response.json()) as {
        model: string;
        predictions: Prediction[];
        timing: Record<string, number>;
      };
      expect(body.model).toBe('efficientvit_m0.fp32');
      expect(body.predictions).toEqual(expected);
      expect(body.timing.fetch_ms).toBeGreaterThanOrEqual(0);
    });

    it('follows up to 3 redirects; a 4th is 502 fetch-failed', async () => {
      const ok = await classifyJson({ url: `${origin()}/redirect/3/${IMAGE}` });
      expect(ok.status, await ok.clone().text()).toBe(200);
      const problem = await expectProblem(
        await classifyJson({ url: `${origin()}/redirect/4/${IMAGE}` }),
        502,
        'fetch-failed',
      );
      expect(problem.upstreamStatus).toBe(302);
    });

    it('a batch of URLs is answered in order, a failed fetch failing alone', async () => {
      const urls = [`${origin()}/image/${IMAGE}`, `${origin()}/status/404`, `${origin()}/image/${OTHER_IMAGE}`];
      const response = await classifyJson({ urls });
      expect(response.status, await response.clone().text()).toBe(200);
      const body = (await response.json()) as {
        results: { url: string; predictions?: unknown[]; error?: Record<string, unknown> }[];
      };
      expect(body.results.map((result) => result.url)).toEqual(urls);
      expect(body.results[0].predictions).toHaveLength(5);
      expect(body.results[1].error).toMatchObject({ code: 'fetch-failed', status: 502, upstreamStatus: 404 });
      expect(body.results[2].predictions).toHaveLength(5);
      expect(body.results[2].predictions).not.toEqual(body.results[0].predictions);
    });

    it('400 url-not-allowed: unlisted hosts, IP literals, loopback names, other schemes, a redirect to such a host', async () => {
      for (const url of [
        'https://example.com/cat.jpg',
        'https://10.0.0.1/cat.jpg',
        'http://[::1]/cat.jpg',
        `http://localhost:1/cat.jpg`,
        'file:///etc/passwd',
        'not a url',
        `http://user:secret@127.0.0.1/cat.jpg`,
      ]) {
        await expectProblem(await classifyJson({ url }), 400, 'url-not-allowed');
      }
      await expectProblem(await classifyJson({ url: `${origin()}/to-localhost/${IMAGE}` }), 400, 'url-not-allowed');
    });

    it('502 fetch-failed with the upstream status; 504 fetch-timeout for a server that stalls', async () => {
      const failed = await expectProblem(await classifyJson({ url: `${origin()}/status/500` }), 502, 'fetch-failed');
      expect(failed.upstreamStatus).toBe(500);
      const timeout = Number(CONFORMANCE_CONFIG.FETCH_TIMEOUT_MS);
      const stalled = await expectProblem(await classifyJson({ url: `${origin()}/stall` }), 504, 'fetch-timeout');
      expect(stalled.timeoutMs).toBe(timeout);
      await expectProblem(await classifyJson({ url: `${origin()}/stall-body` }), 504, 'fetch-timeout');
    });

    it('413 body-too-large while streaming, declared or not; 415 for a non-image', async () => {
      await expectProblem(await classifyJson({ url: `${origin()}/oversized-declared` }), 413, 'body-too-large');
      await expectProblem(await classifyJson({ url: `${origin()}/oversized-chunked` }), 413, 'body-too-large');
      await expectProblem(await classifyJson({ url: `${origin()}/text` }), 415, 'unsupported-format');
    });

    it('400 for a JSON body that is not {url} or {urls}; 413 for too many URLs', async () => {
      await expectProblem(await classifyJson({ link: 'x' }), 400, 'bad-parameter');
      await expectProblem(await classifyJson({ url: 42 }), 400, 'bad-parameter');
      await expectProblem(
        await target.fetch('/v1/classify', {
          method: 'POST',
          body: '{"url": ',
          headers: { 'content-type': 'application/json' },
        }),
        400,
        'malformed-body',
      );
      const urls = Array.from({ length: Number(CONFORMANCE_CONFIG.MAX_BATCH) + 1 }, () => `${origin()}/image/${IMAGE}`);
      await expectProblem(await classifyJson({ urls }), 413, 'batch-too-large');
    });
  });

  describe('result cache', () => {
    it('the same bytes, model and top_k are answered from the cache without inference; other models never share it', async () => {
      // no-cache: computed afresh (whatever earlier tests stored) and stored.
      const first = await upload(jpeg, `?model=${model}&top_k=3`, { 'cache-control': 'no-cache' });
      expect(first.status).toBe(200);
      expect(first.headers.get('x-cache')).toBe('miss');
      const computed = (await first.json()) as { predictions: Prediction[]; timing: Record<string, number> };
      expect(computed.timing.inference_ms).toBeGreaterThanOrEqual(0);

      const second = await upload(jpeg, `?model=${model}&top_k=3`);
      expect(second.headers.get('x-cache')).toBe('hit');
      const cached = (await second.json()) as {
        model: string;
        predictions: Prediction[];
        timing: Record<string, number>;
      };
      expect(cached.predictions).toEqual(computed.predictions);
      expect(cached.model).toBe('efficientvit_m0.fp32');
      // Only the lookup: no decode, preprocess or inference stage.
      expect(Object.keys(cached.timing).sort()).toEqual(['cache_ms', 'total_ms']);

      const otherModel = await upload(jpeg, `?model=${CONFORMANCE_MODELS.m1}&top_k=3`, { 'cache-control': 'no-cache' });
      expect(otherModel.headers.get('x-cache')).toBe('miss');
      const m1 = (await otherModel.json()) as { model: string; predictions: Prediction[] };
      expect(m1.model).toBe('efficientvit_m1.fp32');
      const m1Again = await upload(jpeg, `?model=${CONFORMANCE_MODELS.m1}&top_k=3`);
      expect(m1Again.headers.get('x-cache')).toBe('hit');
      expect(((await m1Again.json()) as { predictions: Prediction[] }).predictions).toEqual(m1.predictions);
      expect(m1.predictions).not.toEqual(computed.predictions);

      const otherTopK = await upload(jpeg, `?model=${model}&top_k=4`, { 'cache-control': 'no-cache' });
      expect(((await otherTopK.json()) as { predictions: Prediction[] }).predictions).toHaveLength(4);
    });

    it('embed answers are cached per encoding; classify and embed of the same bytes and model never share an entry', async () => {
      const bytes = await target.shared(EMBED_IMAGE);
      const embed = (query: string) =>
        target.fetch(`/v1/embed?model=${model}${query}`, {
          method: 'POST',
          body: bytes,
          headers: { 'content-type': 'image/jpeg' },
        });
      const classified = await upload(bytes, `?model=${model}&top_k=5`);
      expect(classified.headers.get('x-cache')).toBe('miss');
      const predictions = (await okJson<{ predictions: Prediction[] }>(classified)).predictions;

      // Classify's entry for these bytes and model is not an embedding's: computed, then stored under its own key.
      const first = await embed('');
      expect(first.headers.get('x-cache')).toBe('miss');
      const computed = await okJson<{ model: string; dims: number; embedding: number[]; timing: object }>(first);
      expect(computed.embedding).toHaveLength(computed.dims);
      expect(computed.timing).toHaveProperty('inference_ms');
      const again = await embed('');
      expect(again.headers.get('x-cache')).toBe('hit');
      const hit = await okJson<{ model: string; dims: number; embedding: number[]; timing: object }>(again);
      expect(hit).toEqual({ ...computed, timing: hit.timing });
      expect(Object.keys(hit.timing).sort()).toEqual(['cache_ms', 'total_ms']);
      expect(hit).not.toHaveProperty('predictions');

      // base64 is another answer: its own entry, not the JSON numbers'.
      const base64 = await embed('&encoding=base64');
      expect(base64.headers.get('x-cache')).toBe('miss');
      const encoded = await okJson<{ encoding: string; embedding: string }>(base64);
      expect(encoded.encoding).toBe('base64');
      const base64Again = await embed('&encoding=base64');
      expect(base64Again.headers.get('x-cache')).toBe('hit');
      expect((await okJson<{ embedding: string }>(base64Again)).embedding).toBe(encoded.embedding);

      // And the embeddings did not replace classify's answer.
      const classifiedAgain = await upload(bytes, `?model=${model}&top_k=5`);
      expect(classifiedAgain.headers.get('x-cache')).toBe('hit');
      expect((await okJson<{ predictions: Prediction[] }>(classifiedAgain)).predictions).toEqual(predictions);
      // no-store: computed afresh even though an entry exists, and the same vector.
      const noStore = await target.fetch(`/v1/embed?model=${model}`, {
        method: 'POST',
        body: bytes,
        headers: { 'content-type': 'image/jpeg', 'cache-control': 'no-store' },
      });
      expect(noStore.headers.get('x-cache')).toBe('miss');
      expect((await okJson<{ embedding: number[] }>(noStore)).embedding).toEqual(computed.embedding);
    });

    it('no-store neither reads nor writes; a URL is cached by the bytes it fetched', async () => {
      const other = await target.shared(OTHER_IMAGE);
      const noStore = await upload(other, `?model=${model}&top_k=2`, { 'cache-control': 'no-store' });
      expect(noStore.headers.get('x-cache')).toBe('miss');
      // Not written by no-store: the next plain request computes (and stores), the one after hits.
      expect((await upload(other, `?model=${model}&top_k=2`)).headers.get('x-cache')).toBe('miss');
      expect((await upload(other, `?model=${model}&top_k=2`)).headers.get('x-cache')).toBe('hit');
      const fetched = await classifyJson({ url: `${origin()}/image/${OTHER_IMAGE}` }, `?model=${model}&top_k=7`, {
        'cache-control': 'no-cache',
      });
      expect(fetched.headers.get('x-cache')).toBe('miss');
      const uploaded = await upload(other, `?model=${model}&top_k=7`);
      expect(uploaded.headers.get('x-cache')).toBe('hit');
    });
  });
}
