/**
 * `npm start` (scripts/start.ts) as a real process: the Worker bundled as deployed, in workerd via Miniflare, behind
 * scripts/lib/continue-front.ts. An over-limit chunked upload whose client leaves on the 413 leaves
 * the next POST and GET answered; a Content-Length over the limit is refused before the body is sent;
 * `Expect: 100-continue` is answered (workerd alone never sends 100 Continue).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConformanceModels } from '../service/conformance/models.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const START = ['--import', 'tsx', path.join(repoRoot, 'scripts/start.ts')];
const LIMIT = 1024 * 1024;
const image = new Uint8Array(
  readFileSync(path.join(repoRoot, '../shared/images/imagenet-sample/n01440764_tench.JPEG')),
);

describe('npm start: arguments', () => {
  it('--help prints the usage and exits 0 without building anything', () => {
    const run = spawnSync(process.execPath, [...START, '--help'], { cwd: repoRoot, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('usage: npm start -- [--port N]');
    expect(run.stderr).not.toContain('building');
  });

  it.each([
    [['--bogus'], "error: Unknown option '--bogus'"],
    [['--var', 'NOVALUE'], 'error: --var NOVALUE: expected NAME:VALUE'],
    [['--port', '70000'], 'error: --port must be 0–65535, got 70000'],
  ])('%j is a usage error: one error line, exit 2', (args, message) => {
    const run = spawnSync(process.execPath, [...START, ...args], { cwd: repoRoot, encoding: 'utf8' });
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      new RegExp(`^${message.replace(/[[\]().*+?]/g, '\\$&')}.* \\(usage: npm start -- --help\\)$`),
    );
  });

  it('a folder without a manifest is one error line, exit 1', () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'start-empty-'));
    try {
      const run = spawnSync(process.execPath, [...START, '--port', '0', '--models', empty], {
        cwd: repoRoot,
        encoding: 'utf8',
      });
      expect(run.status).toBe(1);
      expect(run.stderr).toContain(`error: ${empty}: no manifest.json`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('npm start: the local emulator over real HTTP', () => {
  let modelsDir: string;
  let child: ChildProcess;
  let origin: URL;

  beforeAll(async () => {
    modelsDir = mkdtempSync(path.join(os.tmpdir(), 'start-models-'));
    writeConformanceModels(modelsDir);
    child = spawn(
      process.execPath,
      [
        ...START,
        ...['--port', '0', '--models', modelsDir],
        ...['--var', 'DEFAULT_MODEL:tiny', '--var', `MAX_BODY_BYTES:${LIMIT}`],
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    origin = await new Promise<URL>((resolve, reject) => {
      const onData = (data: Buffer) => {
        output += data.toString();
        const ready = /Ready on (http:\/\/\S+)/.exec(output);
        if (ready) resolve(new URL(ready[1]));
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.on('exit', (code) => reject(new Error(`npm start exited ${code} before ready:\n${output}`)));
    });
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
  });

  const classify = () =>
    fetch(new URL('/v1/classify?top_k=1', origin), {
      method: 'POST',
      body: image,
      headers: { 'content-type': 'image/jpeg' },
      signal: AbortSignal.timeout(20_000),
    });

  /** Opens a raw connection, sends `head`, then calls `onData` with everything received so far. */
  const rawExchange = (head: string, onData: (received: string, socket: net.Socket) => boolean) =>
    new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(origin.port), origin.hostname, () => socket.write(head));
      let received = '';
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer in 20 s; received ${JSON.stringify(received)}`));
      }, 20_000);
      socket.on('data', (data) => {
        received += data.toString('latin1');
        if (onData(received, socket)) {
          clearTimeout(timer);
          socket.destroy();
          resolve(received);
        }
      });
      socket.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });

  it('serves a classify and /healthz', async () => {
    const response = await classify();
    expect(response.status).toBe(200);
    expect(((await response.json()) as { model: string }).model).toBe('tiny_classifier.fp32');
    expect((await fetch(new URL('/healthz', origin))).status).toBe(200);
  });

  it('after over-limit chunked uploads whose client leaves on the 413, the next POST and GET are answered', async () => {
    for (let round = 0; round < 3; round++) {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(origin.port), origin.hostname);
        let received = '';
        let sending: NodeJS.Timeout | undefined;
        socket.on('connect', () => {
          socket.write(
            'POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n',
          );
          const chunk = `10000\r\n${'a'.repeat(0x10000)}\r\n`;
          // 64 KiB every 5 ms, past the 1 MiB limit, until the answer arrives.
          sending = setInterval(() => socket.write(chunk), 5);
        });
        socket.on('data', (data) => {
          received += data.toString('latin1');
          if (/\r\n\r\n[\s\S]*"code"/.test(received)) {
            clearInterval(sending);
            socket.destroy(); // leave on the 413, mid-upload
            resolve(received);
          }
        });
        socket.on('error', (error) => {
          clearInterval(sending);
          // A reset after the answer arrived is the server closing a refused upload: fine.
          if (/^HTTP\/1\.1 413/.test(received)) resolve(received);
          else reject(error);
        });
        setTimeout(() => reject(new Error(`no 413 in 20 s: ${JSON.stringify(received)}`)), 20_000);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 413/);
      expect(answer).toContain('"code":"body-too-large"');

      const next = await classify();
      expect(next.status).toBe(200);
      expect(((await next.json()) as { predictions: unknown[] }).predictions).toHaveLength(1);
      const health = await fetch(new URL('/healthz', origin), { signal: AbortSignal.timeout(20_000) });
      expect(health.status).toBe(200);
    }
  });

  it('a Content-Length over the limit gets its 413 before any of the body is sent', async () => {
    const answer = await rawExchange(
      `POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: ${2 * LIMIT}\r\n\r\n`,
      (received) => /\r\n\r\n[\s\S]*\}/.test(received),
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(answer).toContain('"code":"body-too-large"');
  });

  it('answers Expect: 100-continue with 100 Continue, then the classify', async () => {
    let bodySent = false;
    const answer = await rawExchange(
      `POST /v1/classify?top_k=1 HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: ${image.length}\r\nExpect: 100-continue\r\n\r\n`,
      (received, socket) => {
        if (!bodySent && /^HTTP\/1\.1 100 Continue\r\n\r\n/.test(received)) {
          bodySent = true;
          socket.write(image);
        }
        return /HTTP\/1\.1 200[\s\S]*"predictions"[\s\S]*\}$/.test(received);
      },
    );
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    expect(answer).toContain('"model":"tiny_classifier.fp32"');
  });
});
