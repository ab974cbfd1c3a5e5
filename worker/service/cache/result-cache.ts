/**
 * The result cache: identical image bytes + endpoint + model + answer parameters (classify's top_k, embed's encoding)
 * give the stored answer without decoding or inference. Keys hash the body and name the model by its file's SHA-256,
 * so a rebuilt model never serves an old answer and two models never share an entry. Two stores, one interface: the
 * Workers Cache API and an in-memory LRU (Node).
 */
import { sha256Hex } from '../../core/manifest/manifest.js';

/** What an answer keeps: everything but its timing, which belongs to the request that computed it. */
export type CachedAnswer = Record<string, unknown>;

export interface ResultCache {
  get(key: string): Promise<CachedAnswer | undefined>;
  put(key: string, answer: CachedAnswer): Promise<void>;
}

/** What an answer depends on besides the image: which endpoint computed it, with what model and parameters. */
export interface AnswerKey {
  /** The endpoint first, so a classify answer and an embedding of the same image and model never share an entry. */
  endpoint: string;
  modelSha256: string;
  /** The parameters that shape the answer, as `name=value`: `top_k=5`, `encoding=base64`. */
  parameters: string;
}

/**
 * The limits are part of the key: an answer computed under looser limits must not answer a request the current
 * limits would refuse (413 too-many-pixels), even though serving it would cost nothing.
 */
export async function resultCacheKey(
  image: Uint8Array,
  request: AnswerKey & { maxPixels: number; maxDecodeBytes: number },
): Promise<string> {
  const { endpoint, modelSha256, parameters, maxPixels, maxDecodeBytes } = request;
  return `${endpoint}/${modelSha256}/${parameters}/${maxPixels}/${maxDecodeBytes}/${await sha256Hex(image)}`;
}

/** How long an answer is kept: the answer for given bytes and model never changes; the TTL only bounds storage. */
export const RESULT_TTL_SECONDS = 86_400;

/** Node: a bounded LRU in memory (a Map keeps insertion order: re-inserting on a hit makes it the newest). */
export function createMemoryResultCache(maxEntries = 10_000): ResultCache {
  const entries = new Map<string, CachedAnswer>();
  return {
    async get(key) {
      const answer = entries.get(key);
      if (answer === undefined) return undefined;
      entries.delete(key);
      entries.set(key, answer);
      return answer;
    },
    async put(key, answer) {
      entries.delete(key);
      entries.set(key, answer);
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value as string);
    },
  };
}

/**
 * workerd: the Cache API (`caches.default`), keyed by a synthetic URL. On Cloudflare it stores only on a zone with a
 * custom domain (workers.dev has no cache); there, and locally in Miniflare, it is per data centre.
 */
export function createCacheApiResultCache(cache: Cache): ResultCache {
  const request = (key: string) => new Request(`https://result-cache.invalid/${key}`);
  return {
    async get(key) {
      const response = await cache.match(request(key));
      return response ? ((await response.json()) as CachedAnswer) : undefined;
    },
    async put(key, answer) {
      await cache.put(
        request(key),
        new Response(JSON.stringify(answer), {
          headers: { 'content-type': 'application/json', 'cache-control': `max-age=${RESULT_TTL_SECONDS}` },
        }),
      );
    },
  };
}

/** The request's Cache-Control: `no-store` neither reads nor writes, `no-cache` computes afresh and stores. */
export function cacheDirectives(header: string | undefined): { read: boolean; write: boolean } {
  const directives = (header ?? '')
    .toLowerCase()
    .split(',')
    .map((part) => part.trim());
  if (directives.includes('no-store')) return { read: false, write: false };
  if (directives.includes('no-cache') || directives.includes('max-age=0')) return { read: false, write: true };
  return { read: true, write: true };
}
