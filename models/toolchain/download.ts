/**
 * Resumable, verified file download over global fetch (Node's undici).
 *
 * Bytes go to `<dest>.partial`; a later attempt (or a later run) resumes it with an HTTP Range request. The finished
 * file is fsynced and renamed into place, so `dest` either does not exist or is complete. Network errors and
 * 5xx/429 responses are retried with exponential backoff; other HTTP statuses are not.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

export type DownloadErrorCode = 'offline' | 'network' | 'http-status' | 'checksum-mismatch' | 'aborted';

export class DownloadError extends Error {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
    /** The HTTP status, for `http-status`. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface DownloadOptions {
  /** Lower-case hex; the download fails with `checksum-mismatch` (and the partial file is removed) if it differs. */
  expectedSha256?: string;
  /** Further attempts after the first. */
  retries?: number;
  /** First backoff delay; doubles each retry. */
  retryDelayMs?: number;
  /** Cap on any single delay, including a server's Retry-After. */
  maxRetryDelayMs?: number;
  /** Bytes on disk so far (a resumed prefix included) and the full size when the server says it. */
  onProgress?(received: number, total: number | undefined): void;
  signal?: AbortSignal;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
}

/** Error codes (on the error or its causes) that mean the host cannot be resolved or reached at all. */
const OFFLINE_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'ECONNREFUSED',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'EHOSTDOWN',
]);

export const OFFLINE_HINT =
  'To build models without network access, fetch the checkpoints on a machine that has it and point the build at ' +
  'the directory: `npm run models -- build --checkpoints DIR` or `EFFICIENTVIT_CHECKPOINTS=DIR npm run models -- build`.';

/** Thrown inside an attempt: retry (after a delay, possibly the server's), or restart from byte 0. */
class RetryableError extends Error {
  constructor(
    message: string,
    readonly cause?: unknown,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export async function downloadFile(
  url: string,
  destPath: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const { retries = 4, retryDelayMs = 500, maxRetryDelayMs = 30_000, signal } = options;
  const partialPath = `${destPath}.partial`;
  await mkdir(path.dirname(destPath), { recursive: true });

  let lastError: RetryableError | undefined;
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) {
      const backoff = Math.min(retryDelayMs * 2 ** (attempt - 1), maxRetryDelayMs);
      await sleep(Math.min(lastError?.retryAfterMs ?? backoff, maxRetryDelayMs), signal);
    }
    try {
      const { bytes, sha256 } = await attemptDownload(url, partialPath, options);
      if (options.expectedSha256 && sha256 !== options.expectedSha256.toLowerCase()) {
        await rm(partialPath, { force: true });
        throw new DownloadError('checksum-mismatch', `${url}: sha256 ${sha256}, expected ${options.expectedSha256}`);
      }
      await rename(partialPath, destPath);
      await syncDirectory(path.dirname(destPath));
      return { path: destPath, bytes, sha256 };
    } catch (error) {
      if (signal?.aborted) throw new DownloadError('aborted', `${url}: download aborted`);
      if (!(error instanceof RetryableError)) throw error;
      lastError = error;
      // No route, no DNS, nothing listening: retrying only delays the message that says what to do instead.
      if (offlineCode(error.cause)) break;
    }
  }
  const offline = offlineCode(lastError?.cause);
  if (offline) {
    throw new DownloadError('offline', `Cannot reach ${new URL(url).host} (${offline}). ${OFFLINE_HINT}`);
  }
  throw new DownloadError('network', `${url}: gave up after ${retries + 1} attempts: ${lastError?.message}`);
}

async function attemptDownload(
  url: string,
  partialPath: string,
  options: DownloadOptions,
): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  const offset = await hashExisting(partialPath, hash);
  const headers: Record<string, string> = { 'accept-encoding': 'identity' };
  if (offset > 0) headers.range = `bytes=${offset}-`;

  let response: Response;
  try {
    response = await fetch(url, { headers, redirect: 'follow', signal: options.signal });
  } catch (error) {
    throw new RetryableError(`request failed: ${describe(error)}`, error);
  }

  const { status } = response;
  if (status === 416) {
    // Our partial file is not a prefix the server can continue (e.g. longer than the file): start over.
    await response.body?.cancel();
    await rm(partialPath, { force: true });
    throw new RetryableError('server rejected the resume range; restarting', undefined, 0);
  }
  if (status === 429 || status >= 500) {
    await response.body?.cancel();
    throw new RetryableError(`HTTP ${status}`, undefined, retryAfterMs(response.headers.get('retry-after')));
  }
  if (status !== 200 && status !== 206) {
    await response.body?.cancel();
    throw new DownloadError('http-status', `${url}: HTTP ${status} ${response.statusText}`.trim(), status);
  }

  let start = 0;
  let total: number | undefined;
  const length = numberHeader(response.headers.get('content-length'));
  if (status === 206) {
    const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
    if (!range || Number(range[1]) !== offset) {
      // A range we did not ask for cannot be appended; discard what we have and ask for the whole file.
      await response.body?.cancel();
      await rm(partialPath, { force: true });
      throw new RetryableError(
        `server answered a different range (${response.headers.get('content-range')}); restarting`,
        undefined,
        0,
      );
    }
    start = offset;
    total = range[3] === '*' ? (length === undefined ? undefined : offset + length) : Number(range[3]);
  } else {
    total = length;
  }
  const resumed = start > 0 ? hash : createHash('sha256'); // a 200 restarts from byte 0

  const file = await open(partialPath, start > 0 ? 'a' : 'w');
  let received = start;
  try {
    options.onProgress?.(received, total);
    if (response.body) {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        await file.write(chunk);
        resumed.update(chunk);
        received += chunk.byteLength;
        options.onProgress?.(received, total);
      }
    }
    await file.sync();
  } catch (error) {
    // Keep what arrived (it is flushed on close) so the next attempt resumes from there.
    throw new RetryableError(`connection lost after ${received} bytes: ${describe(error)}`, error);
  } finally {
    await file.close();
  }
  if (total !== undefined && received !== total) {
    throw new RetryableError(`body ended after ${received} of ${total} bytes`);
  }
  return { bytes: received, sha256: resumed.digest('hex') };
}

/** Size of an existing partial download, hashed into `hash`; 0 when there is none. */
async function hashExisting(partialPath: string, hash: Hash): Promise<number> {
  const size = await stat(partialPath).then(
    (s) => s.size,
    () => 0,
  );
  if (size === 0) return 0;
  for await (const chunk of createReadStream(partialPath)) hash.update(chunk as Buffer);
  return size;
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename durable on POSIX; opening a directory is not allowed on Windows, where it is best left out.
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}

function numberHeader(value: string | null): number | undefined {
  return value !== null && /^\d+$/.test(value) ? Number(value) : undefined;
}

function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function offlineCode(error: unknown): string | undefined {
  return errorCodes(error).find((code) => OFFLINE_CODES.has(code));
}

/** `code`s along an error's cause chain (undici wraps socket errors: TypeError('fetch failed', { cause })). */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (
    let e = error, depth = 0;
    e && typeof e === 'object' && depth < 8;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    // Happy-eyeballs connection failures arrive as an AggregateError of per-address errors.
    if (e instanceof AggregateError) for (const inner of e.errors) codes.push(...errorCodes(inner));
  }
  return codes;
}

function describe(error: unknown): string {
  const codes = errorCodes(error);
  const message = error instanceof Error ? error.message : String(error);
  return codes.length ? `${message} (${codes.join(', ')})` : message;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DownloadError('aborted', 'download aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new DownloadError('aborted', 'download aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
