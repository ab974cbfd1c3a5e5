/**
 * A Node-side service binding for the edge → origin tests (vitest.config.ts): `GET http://lab/start` starts, once per
 * vitest run and only when a test asks, the real Node build as a GPU origin (a synthetic M2, its API_TOKEN set) and
 * a misbehaving local HTTP server, and answers their URLs. The misbehaving server's behaviour is chosen by the first
 * path segment of the base URL the edge is given (`<faulty>/stall` → `/stall/v1/classify`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeOriginTestModels } from '../../helpers/origin-models.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const modelsDir = path.join(repoRoot, '.cache', 'test-origin-models');

export const ORIGIN_LAB_TOKEN = 'origin-lab-secret';

export interface OriginLab {
  /** The Node build, requiring `Authorization: Bearer ${token}`. */
  origin: string;
  token: string;
  /** The misbehaving server; see FAULTS. */
  faulty: string;
  /** A loopback port nothing listens on. */
  refusing: string;
}

const PROBLEM = 'application/problem+json';
const overloaded = JSON.stringify({
  type: 'tag:efficientvit-edge,2026:problem:overloaded',
  title: 'Too many requests waiting; retry later',
  status: 503,
  detail: 'the queue is full',
  code: 'overloaded',
});

/** What the misbehaving server does, by first path segment. */
const FAULTS: Record<
  string,
  (request: string, respond: (status: number, headers: Record<string, string>, body: string) => void) => void
> = {
  // Accepts the request and never answers.
  stall: () => undefined,
  garbage: (_, respond) => respond(200, { 'content-type': 'application/json' }, '<html>this is not json'),
  'wrong-shape': (_, respond) => respond(200, { 'content-type': 'application/json' }, '{"hello":"world"}'),
  fail: (_, respond) => respond(500, { 'content-type': 'text/html' }, '<h1>Internal Server Error</h1>'),
  busy: (_, respond) => respond(503, { 'content-type': PROBLEM, 'retry-after': '7' }, overloaded),
  'busy-proxy': (_, respond) => respond(503, { 'content-type': 'text/html', 'retry-after': '11' }, 'no backend'),
  redirect: (_, respond) => respond(302, { location: 'http://127.0.0.1:1/' }, ''),
  'not-api': (_, respond) => respond(404, { 'content-type': 'text/html' }, '<h1>Not Found</h1>'),
};

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

async function startFaultyServer(): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    const [, fault] = (request.url ?? '/').split('/');
    // The whole upload is read first, as a real origin would.
    request.resume();
    request.on('end', () => {
      const behave = FAULTS[fault];
      if (!behave) return response.writeHead(400).end(`unknown fault ${fault}`);
      behave(request.url ?? '', (status, headers, body) => response.writeHead(status, headers).end(body));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const url = await listen(server);
  server.unref();
  process.once('exit', () => {
    for (const socket of sockets) socket.destroy();
  });
  return url;
}

async function refusingUrl(): Promise<string> {
  const server = createServer();
  const url = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return url;
}

/** Resolves with the URL the Node build logs once it listens, then waits for /readyz. */
async function startNodeOrigin(): Promise<string> {
  writeOriginTestModels(modelsDir);
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/start-node.ts',
      ...['--port', '0', '--host', '127.0.0.1', '--models', modelsDir, '--device', 'cpu', '--threads', '1'],
    ],
    {
      cwd: repoRoot,
      // MAX_BATCH and MAX_BODY_BYTES above the edge's (8, 4 MiB), so a 413 in a test can only be the edge's own.
      // RESULT_CACHE off: a parity test's direct request must be computed, not the forwarded one's cached answer.
      env: {
        ...process.env,
        API_TOKEN: ORIGIN_LAB_TOKEN,
        MAX_BATCH: '16',
        MAX_BODY_BYTES: String(32 << 20),
        RESULT_CACHE: 'off',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  process.once('exit', () => child.kill('SIGKILL'));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/[^\s]+)/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the Node build exited (${code}) before listening:\n${output}`)));
  });
  // Nothing of it may keep vitest from exiting; the exit hook above kills it.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) {
    stream?.resume();
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }
  for (let attempt = 0; attempt < 600; attempt++) {
    const ready = await fetch(`${url}/readyz`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) return url;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the Node build at ${url} did not become ready:\n${output}`);
}

let lab: Promise<OriginLab> | undefined;

export async function serveOriginLab(request: Request): Promise<Response> {
  if (new URL(request.url).pathname !== '/start') return new Response('GET /start', { status: 404 });
  lab ??= (async () => {
    const [origin, faulty, refusing] = await Promise.all([startNodeOrigin(), startFaultyServer(), refusingUrl()]);
    return { origin, token: ORIGIN_LAB_TOKEN, faulty, refusing };
  })();
  try {
    return Response.json(await lab);
  } catch (error) {
    lab = undefined;
    return new Response(String(error instanceof Error ? error.stack : error), { status: 500 });
  }
}
