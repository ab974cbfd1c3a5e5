/**
 * The result cache as the pipeline uses it for a request of one image: the answer looked up once the image
 * is read and before any decoding, `X-Cache` saying which it was, and a computed answer kept in the background.
 */
import type { Context } from 'hono';
import { setMetric } from 'hono/timing';
import { type AnswerKey, type CachedAnswer, cacheDirectives, resultCacheKey } from '../cache/result-cache.js';
import { type CacheHitTimings, roundMs } from '../http/timing.js';
import type { Input } from './inputs.js';
import type { Services } from '../services.js';

export interface AnswerCache {
  /** The stored answer with this request's timing (the lookup and the total); absent: compute it. */
  hit?: CachedAnswer & { timing: CacheHitTimings };
  /** Keeps a computed answer (nothing for a request the cache does not cover, or one that says no-store). */
  store(answer: CachedAnswer): void;
}

const UNCACHED: AnswerCache = { store: () => undefined };

/**
 * One image only: a batch is always computed. `key.parameters` undefined: the request asks for more than a stored
 * answer holds (classify's include=). `started`: when the request began, for the hit's total_ms.
 */
export async function answerCache(
  c: Context,
  { config, resultCache, clock, background }: Services,
  request: {
    inputs: readonly Input[];
    batch: boolean;
    key: Omit<AnswerKey, 'parameters'> & { parameters: string | undefined };
    started: number;
  },
): Promise<AnswerCache> {
  const only = request.inputs[0];
  const { parameters } = request.key;
  if (!resultCache || !config.resultCache || request.batch || parameters === undefined || !('bytes' in only)) {
    return UNCACHED;
  }
  const key = await resultCacheKey(only.bytes, {
    ...request.key,
    parameters,
    maxPixels: config.maxImagePixels,
    maxDecodeBytes: config.maxDecodeBytes,
  });
  const directives = cacheDirectives(c.req.header('cache-control'));
  const store = (answer: CachedAnswer) => {
    if (directives.write)
      background(
        c,
        resultCache.put(key, answer).catch(() => undefined),
      );
  };
  c.header('X-Cache', 'miss');
  if (!directives.read) return { store };
  const lookupStarted = clock();
  const hit = await resultCache.get(key);
  if (!hit) return { store };
  c.header('X-Cache', 'hit');
  const cacheMs = clock() - lookupStarted;
  setMetric(c, 'cache', cacheMs, undefined, 2);
  return {
    store,
    hit: { ...hit, timing: { cache_ms: roundMs(cacheMs), total_ms: roundMs(clock() - request.started) } },
  };
}
