/**
 * `npm start` never loses an answer the worker gives before reading the body. workerd answers such a request (unknown
 * model, bad parameter, missing or wrong token, a body too large) and then resets the connection whose body it left
 * unread; the local front (scripts/lib/continue-front.ts) must still relay that answer. A fresh `npm start` process,
 * every early answer × raw / chunked / multipart × small / large bodies, several times over raw sockets (so that the
 * framing is exactly what is listed): each gets its own status, never a 5xx.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeConformanceModels } from '../service/conformance/models.js';
import { type NpmStart, startNpmStart } from '../helpers/npm-start.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LIMIT = 1024 * 1024;
const TOKEN = 'early-answers-token';
const jpeg = new Uint8Array(readFileSync(path.join(repoRoot, '../shared/images/imagenet-sample/n01440764_tench.JPEG')));
const REPEAT = 3;

type Framing = 'raw' | 'chunked' | 'multipart';
type Size = 'small' | 'large';

/** A body of `bytes` bytes that starts with a real JPEG (the worker never reads it in these cases). */
function imageBytes(bytes: number): Uint8Array {
  const body = new Uint8Array(bytes);
  body.set(jpeg.subarray(0, Math.min(bytes, jpeg.length)));
  return body;
}

const BOUNDARY = 'early-answers-boundary';

/** The request's bytes: its head and body as the framing sends them. */
function requestBytes(target: string, headers: Record<string, string>, image: Uint8Array, framing: Framing): Buffer {
  let body = Buffer.from(image);
  let contentType = 'image/jpeg';
  if (framing === 'multipart') {
    contentType = `multipart/form-data; boundary=${BOUNDARY}`;
    body = Buffer.concat([
      Buffer.from(
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
      ),
      body,
      Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
    ]);
  }
  const head = [`POST ${target} HTTP/1.1`, 'Host: edge.test', `Content-Type: ${contentType}`];
  for (const [name, value] of Object.entries(headers)) head.push(`${name}: ${value}`);
  if (framing === 'chunked') {
    head.push('Transfer-Encoding: chunked');
    const chunks: Buffer[] = [];
    for (let at = 0; at < body.length; at += 64 * 1024) {
      const chunk = body.subarray(at, at + 64 * 1024);
      chunks.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
    }
    body = Buffer.concat([...chunks, Buffer.from('0\r\n\r\n')]);
  } else {
    head.push(`Content-Length: ${body.length}`);
  }
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]);
}

interface Answer {
  status: number;
  body: string;
}

/** One complete HTTP answer (Content-Length or chunked), or what went wrong before it was complete. */
function parseAnswer(received: Buffer): Answer | undefined {
  const end = received.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = received.subarray(0, end).toString('latin1');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const rest = received.subarray(end + 4);
  const length = /\r\ncontent-length: *(\d+)/i.exec(head);
  if (length) {
    return rest.length >= Number(length[1])
      ? { status, body: rest.subarray(0, Number(length[1])).toString() }
      : undefined;
  }
  if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
    if (!rest.includes('\r\n0\r\n\r\n') && !rest.subarray(0, 5).equals(Buffer.from('0\r\n\r\n'))) return undefined;
    let body = '';
    for (let at = 0; ; ) {
      const line = rest.indexOf('\r\n', at);
      const size = Number.parseInt(rest.subarray(at, line).toString(), 16);
      if (size === 0) return { status, body };
      body += rest.subarray(line + 2, line + 2 + size).toString();
      at = line + 2 + size + 2;
    }
  }
  return undefined;
}

/** Sends the whole request at once over a fresh connection and reads the answer; a reset after it is fine. */
function exchange(origin: URL, request: Buffer): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(origin.port), origin.hostname, () => socket.write(request, () => undefined));
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer in 30 s; received ${JSON.stringify(received.toString('latin1').slice(0, 300))}`));
    }, 30_000);
    const finish = (error?: Error) => {
      const answer = parseAnswer(received);
      clearTimeout(timer);
      socket.destroy();
      if (answer) resolve(answer);
      else reject(error ?? new Error(`the connection closed before an answer: ${received.toString('latin1')}`));
    };
    socket.on('data', (data) => {
      received = Buffer.concat([received, data]);
      if (parseAnswer(received)) finish();
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish());
  });
}

interface EarlyCase {
  name: string;
  target: string;
  headers: Record<string, string>;
  /** The body's size in bytes for a small and a large body. */
  bytes: Record<Size, number>;
  status: number;
  code: string;
}

const auth = { Authorization: `Bearer ${TOKEN}` };
const within = { small: jpeg.length, large: LIMIT - 64 * 1024 };
const CASES: EarlyCase[] = [
  {
    name: 'unknown model',
    target: '/v1/classify?model=no-such-model',
    headers: auth,
    bytes: within,
    status: 404,
    code: 'unknown-model',
  },
  {
    name: 'bad parameter',
    target: '/v1/classify?top_k=zero',
    headers: auth,
    bytes: within,
    status: 400,
    code: 'bad-parameter',
  },
  { name: 'missing token', target: '/v1/classify', headers: {}, bytes: within, status: 401, code: 'unauthorized' },
  {
    name: 'wrong token',
    target: '/v1/classify',
    headers: { Authorization: 'Bearer wrong' },
    bytes: within,
    status: 401,
    code: 'unauthorized',
  },
  {
    name: 'body too large',
    target: '/v1/classify',
    headers: auth,
    bytes: { small: LIMIT + 1024, large: 3 * LIMIT },
    status: 413,
    code: 'body-too-large',
  },
];

describe('npm start: every early answer reaches the client', () => {
  let modelsDir: string;
  let start: NpmStart;

  beforeAll(async () => {
    modelsDir = mkdtempSync(path.join(os.tmpdir(), 'start-early-'));
    writeConformanceModels(modelsDir);
    start = await startNpmStart(modelsDir, { DEFAULT_MODEL: 'tiny', MAX_BODY_BYTES: String(LIMIT), API_TOKEN: TOKEN });
  });

  afterAll(async () => {
    await start?.stop();
    if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
  });

  const grid = CASES.flatMap((c) =>
    (['raw', 'chunked', 'multipart'] as const).flatMap((framing) =>
      (['small', 'large'] as const).map((size) => [c.name, framing, size, c] as const),
    ),
  );

  it.each(grid)('%s, %s body, %s: its own status every time', async (_name, framing, size, c) => {
    const request = requestBytes(c.target, c.headers, imageBytes(c.bytes[size]), framing);
    const statuses: number[] = [];
    for (let round = 0; round < REPEAT; round++) {
      const answer = await exchange(start.url, request);
      statuses.push(answer.status);
      expect(JSON.parse(answer.body)).toMatchObject({ status: c.status, code: c.code });
    }
    expect(statuses).toEqual(Array(REPEAT).fill(c.status));
  });

  it('still serves a good request afterwards', async () => {
    const answer = await exchange(start.url, requestBytes('/v1/classify?top_k=1', auth, jpeg, 'raw'));
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).model).toBe('tiny_classifier.fp32');
  });
});
