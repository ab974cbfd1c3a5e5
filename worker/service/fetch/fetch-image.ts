/**
 * Fetches one image for classify by URL: every hop checked against the URL policy (at most MAX_REDIRECTS redirects),
 * one deadline for the whole fetch including the body, and the body limit applied while streaming, so a URL costs
 * no more than an upload of the same size.
 */
import { ApiError } from '../problems.js';
import { checkUrl, isInternalAddress, mayResolveInternally, type UrlPolicy } from './url-policy.js';

export const MAX_REDIRECTS = 3;

export interface UrlFetcher {
  /** The runtime's fetch (globalThis.fetch in both runtimes). */
  fetch: typeof fetch;
  /**
   * The addresses a host name resolves to, where the host can tell (Node). Lets the policy refuse a listed suffix
   * whose name points at an internal address. Unset in workerd, whose fetch cannot reach private networks anyway.
   */
  lookup?: (host: string) => Promise<string[]>;
}

export interface FetchImageOptions {
  policy: UrlPolicy | undefined;
  maxBytes: number;
  timeoutMs: number;
  fetcher: UrlFetcher;
}

function fetchFailed(url: string, detail: string, details: Record<string, unknown> = {}): ApiError {
  return new ApiError('fetch-failed', `${url.slice(0, 200)}: ${detail}`, { details: { url, ...details } });
}

async function readLimited(response: Response, url: string, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  const tooLarge = () =>
    new ApiError('body-too-large', `the image at ${url.slice(0, 200)} is larger than ${maxBytes} bytes`, {
      details: { limit: maxBytes, url },
    });
  if (declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (!response.body) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

async function checkResolution(url: URL, options: FetchImageOptions): Promise<void> {
  const { lookup } = options.fetcher;
  if (!lookup || !options.policy || mayResolveInternally(url.hostname, options.policy)) return;
  const addresses = await lookup(url.hostname).catch(() => [] as string[]);
  if (addresses.some(isInternalAddress)) {
    throw new ApiError('url-not-allowed', `${url.href.slice(0, 200)}: the host resolves to an internal address`, {
      details: { url: url.href },
    });
  }
}

/** The image bytes at `raw`, or an ApiError: url-not-allowed, fetch-failed, fetch-timeout or body-too-large. */
export async function fetchImage(raw: string, options: FetchImageOptions): Promise<Uint8Array> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), options.timeoutMs);
  let url = checkUrl(raw, options.policy);
  try {
    for (let redirects = 0; ; redirects++) {
      await checkResolution(url, options);
      const response = await options.fetcher.fetch(url.href, {
        redirect: 'manual',
        signal: abort.signal,
        headers: { accept: 'image/*' },
      });
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel().catch(() => undefined);
        if (redirects >= MAX_REDIRECTS) {
          throw fetchFailed(raw, `more than ${MAX_REDIRECTS} redirects`, { upstreamStatus: response.status });
        }
        url = checkUrl(new URL(location, url).href, options.policy);
        continue;
      }
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        throw fetchFailed(raw, `the server answered ${response.status}`, { upstreamStatus: response.status });
      }
      return await readLimited(response, raw, options.maxBytes);
    }
  } catch (error) {
    if (error instanceof ApiError && !abort.signal.aborted) throw error;
    if (abort.signal.aborted) {
      throw new ApiError('fetch-timeout', `${raw.slice(0, 200)}: no complete answer within ${options.timeoutMs} ms`, {
        details: { url: raw, timeoutMs: options.timeoutMs },
      });
    }
    throw fetchFailed(raw, `the fetch failed: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
  }
}
