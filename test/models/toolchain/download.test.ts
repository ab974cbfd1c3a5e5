/** downloadFile against a real local HTTP server that misbehaves on purpose. */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DownloadError, downloadFile } from '../../../models/toolchain/download.js';

const payload = randomBytes(1 << 20);
const payloadSha = createHash('sha256').update(payload).digest('hex');

type Handler = (req: IncomingMessage, res: ServerResponse, requestIndex: number) => void;

/** One server for the file; each test installs its handler and reads the requests it saw. */
let server: Server;
let baseUrl: string;
let handler: Handler;
let seen: { url: string; range: string | undefined }[] = [];
let dir: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', range: req.headers.range });
    handler(req, res, seen.length - 1);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(path.join(tmpdir(), 'evit-download-'));
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => {
  seen = [];
});

let fileCounter = 0;
const destination = () => path.join(dir, `file-${fileCounter++}.bin`);
const fast = { retryDelayMs: 1 };

function serveWhole(res: ServerResponse): void {
  res.writeHead(200, { 'content-length': payload.length });
  res.end(payload);
}

/** Honours `Range: bytes=N-` with a 206, like GitHub's release CDN. */
function serveRange(req: IncomingMessage, res: ServerResponse): void {
  const match = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (!match) {
    serveWhole(res);
    return;
  }
  const start = Number(match[1]);
  if (start >= payload.length) {
    res.writeHead(416, { 'content-range': `bytes */${payload.length}` });
    return void res.end();
  }
  res.writeHead(206, {
    'content-length': payload.length - start,
    'content-range': `bytes ${start}-${payload.length - 1}/${payload.length}`,
  });
  res.end(payload.subarray(start));
}

/** The start offset of a `bytes=N-` Range header (NaN for anything else). */
function resumeOffset(range: string | undefined): number {
  const match = /^bytes=(\d+)-$/.exec(range ?? '');
  return match ? Number(match[1]) : Number.NaN;
}

/** Announces the whole file, sends the first `bytes`, then drops the connection. */
function cutAfter(res: ServerResponse, bytes: number): void {
  res.writeHead(200, { 'content-length': payload.length });
  res.write(payload.subarray(0, bytes), () => res.socket?.destroy());
}

async function downloadError(promise: Promise<unknown>): Promise<DownloadError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DownloadError);
  return error as DownloadError;
}

describe('downloadFile', () => {
  it('downloads with progress and the right sha256, leaving no partial file', async () => {
    handler = (_req, res) => serveWhole(res);
    const dest = destination();
    const progress: [number, number | undefined][] = [];
    const result = await downloadFile(`${baseUrl}/m0.pth`, dest, {
      ...fast,
      expectedSha256: payloadSha,
      onProgress: (r, t) => progress.push([r, t]),
    });
    expect(result).toEqual({ path: dest, bytes: payload.length, sha256: payloadSha });
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(existsSync(`${dest}.partial`)).toBe(false);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.every(([, total]) => total === payload.length)).toBe(true);
    expect(progress.every(([received], i) => i === 0 || received >= progress[i - 1][0])).toBe(true);
    expect(progress.at(-1)).toEqual([payload.length, payload.length]);
  });

  it('resumes with a Range request after the connection is cut mid-body', async () => {
    const cut = 300_000;
    handler = (req, res, i) => (i === 0 ? cutAfter(res, cut) : serveRange(req, res));
    const dest = destination();
    const result = await downloadFile(`${baseUrl}/m0.pth`, dest, fast);
    expect(seen).toHaveLength(2);
    expect(seen[0].range).toBeUndefined();
    // What arrived before the cut was kept and not fetched again. The resume point can sit a little before the cut:
    // the client may drop chunks it had not yet handed over when it saw the connection end.
    expect(resumeOffset(seen[1].range)).toBeGreaterThan(0);
    expect(resumeOffset(seen[1].range)).toBeLessThanOrEqual(cut);
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(result.sha256).toBe(payloadSha); // hashed across the resumed prefix and the rest
  });

  it('resumes a partial file left by an earlier run', async () => {
    handler = serveRange;
    const dest = destination();
    writeFileSync(`${dest}.partial`, payload.subarray(0, 12345));
    const result = await downloadFile(`${baseUrl}/m0.pth`, dest, { ...fast, expectedSha256: payloadSha });
    expect(seen.map((s) => s.range)).toEqual(['bytes=12345-']);
    expect(result.bytes).toBe(payload.length);
    expect(readFileSync(dest).equals(payload)).toBe(true);
  });

  it('restarts from zero when the server ignores Range and answers 200', async () => {
    handler = (_req, res, i) => (i === 0 ? cutAfter(res, 400_000) : serveWhole(res));
    const dest = destination();
    const result = await downloadFile(`${baseUrl}/m0.pth`, dest, fast);
    expect(seen).toHaveLength(2);
    expect(resumeOffset(seen[1].range)).toBeGreaterThan(0);
    expect(resumeOffset(seen[1].range)).toBeLessThanOrEqual(400_000);
    expect(readFileSync(dest).equals(payload)).toBe(true);
    expect(result).toMatchObject({ bytes: payload.length, sha256: payloadSha });
  });

  it('restarts when the server answers 416 to a stale partial file', async () => {
    handler = serveRange;
    const dest = destination();
    writeFileSync(`${dest}.partial`, Buffer.concat([payload, Buffer.from('stale tail')]));
    await downloadFile(`${baseUrl}/m0.pth`, dest, fast);
    expect(seen.map((s) => s.range)).toEqual([`bytes=${payload.length + 10}-`, undefined]);
    expect(readFileSync(dest).equals(payload)).toBe(true);
  });

  it('retries a 500 and a 429, then succeeds', async () => {
    handler = (_req, res, i) => {
      if (i === 0) return void res.writeHead(500).end('oops');
      if (i === 1) return void res.writeHead(429, { 'retry-after': '0' }).end();
      serveWhole(res);
    };
    const dest = destination();
    await downloadFile(`${baseUrl}/m0.pth`, dest, fast);
    expect(seen).toHaveLength(3);
    expect(readFileSync(dest).equals(payload)).toBe(true);
  });

  it('gives up on a persistent 503 after the configured retries', async () => {
    handler = (_req, res) => void res.writeHead(503).end();
    const error = await downloadError(downloadFile(`${baseUrl}/m0.pth`, destination(), { ...fast, retries: 2 }));
    expect(error.code).toBe('network');
    expect(error.message).toMatch(/HTTP 503/);
    expect(seen).toHaveLength(3);
  });

  it('does not retry a 404', async () => {
    handler = (_req, res) => void res.writeHead(404).end('no such asset');
    const dest = destination();
    const error = await downloadError(downloadFile(`${baseUrl}/missing.pth`, dest, fast));
    expect(error.code).toBe('http-status');
    expect(error.status).toBe(404);
    expect(seen).toHaveLength(1);
    expect(existsSync(dest)).toBe(false);
  });

  it('rejects a checksum mismatch and removes the partial file', async () => {
    handler = (_req, res) => serveWhole(res);
    const dest = destination();
    const error = await downloadError(
      downloadFile(`${baseUrl}/m0.pth`, dest, { ...fast, expectedSha256: '0'.repeat(64) }),
    );
    expect(error.code).toBe('checksum-mismatch');
    expect(error.message).toContain(payloadSha);
    expect(existsSync(dest)).toBe(false);
    expect(existsSync(`${dest}.partial`)).toBe(false);
  });

  it('follows redirects (GitHub release assets redirect to a CDN)', async () => {
    handler = (req, res) => {
      if (req.url === '/releases/download/v1.0/m0.pth')
        return void res.writeHead(302, { location: '/cdn/objects/abc' }).end();
      serveWhole(res);
    };
    const dest = destination();
    const result = await downloadFile(`${baseUrl}/releases/download/v1.0/m0.pth`, dest, fast);
    expect(seen.map((s) => s.url)).toEqual(['/releases/download/v1.0/m0.pth', '/cdn/objects/abc']);
    expect(result.sha256).toBe(payloadSha);
  });

  it('reports an unreachable host as offline, with one message that says how to use local checkpoints', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const error = await downloadError(
      downloadFile(`http://127.0.0.1:${port}/m0.pth`, destination(), { ...fast, retries: 1 }),
    );
    expect(error.code).toBe('offline');
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).toContain('--checkpoints DIR');
    expect(error.message).toContain('EFFICIENTVIT_CHECKPOINTS=DIR');
  });

  it('stops when aborted, keeping the partial file for a later resume', async () => {
    const controller = new AbortController();
    handler = (_req, res) => {
      // Send a little, then stall: only the abort ends this download.
      res.writeHead(200, { 'content-length': payload.length });
      res.write(payload.subarray(0, 1000));
    };
    const dest = destination();
    const abortOnFirstBytes = (received: number) => received > 0 && controller.abort();
    const error = await downloadError(
      downloadFile(`${baseUrl}/m0.pth`, dest, { ...fast, signal: controller.signal, onProgress: abortOnFirstBytes }),
    );
    expect(error.code).toBe('aborted');
    expect(seen).toHaveLength(1);
    expect(existsSync(dest)).toBe(false);
    const partial = readFileSync(`${dest}.partial`);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.equals(payload.subarray(0, partial.length))).toBe(true);
  });
});
