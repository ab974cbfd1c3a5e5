/**
 * What only the Node build does: dynamic batching over real HTTP, the bounded queue's 503, the device fallback, and a
 * graceful SIGTERM in a real child process (scripts/start-node.ts, the `npm run start:node` entry).
 */
import { spawnEntry } from '../../helpers/node-entry.js';
import { startTestNodeServer } from '../../helpers/node-server.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFsModelFiles } from '../../../worker/runtimes/node/fs-model-files.js';
import type { LogLevel, NodeServer, NodeServerOptions } from '../../../worker/runtimes/node/server.js';
import { sharedRoot, writeConformanceModels } from '../../service/conformance/models.js';
import type { Prediction } from '../../../worker/api/common.js';

let modelsDir: string;
let jpegs: Uint8Array[];
const servers: NodeServer[] = [];

function start(
  options: Partial<NodeServerOptions>,
  log: NodeServerOptions['log'] = () => undefined,
): Promise<NodeServer> {
  return startTestNodeServer(modelsDir, { log, ...options }).then((server) => {
    servers.push(server);
    return server;
  });
}

const classify = (server: NodeServer, query: string, body: Uint8Array) =>
  fetch(`${server.url}/v1/classify${query}`, { method: 'POST', body, headers: { 'content-type': 'image/jpeg' } });

beforeAll(() => {
  modelsDir = mkdtempSync(path.join(os.tmpdir(), 'node-server-models-'));
  writeConformanceModels(modelsDir);
  const names = JSON.parse(readFileSync(path.join(sharedRoot, 'fixtures/golden/m0.json'), 'utf8')).images as string[];
  jpegs = names.map((name) => new Uint8Array(readFileSync(path.join(sharedRoot, 'images/imagenet-sample', name))));
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.close()));
  rmSync(modelsDir, { recursive: true, force: true });
});

describe('dynamic batching over HTTP', () => {
  it('concurrent requests with different images each get the scores of their own image, as single runs give them', async () => {
    const single = await start({ batching: false });
    const alone: Prediction[][] = [];
    for (const jpeg of jpegs) {
      const response = await classify(single, '?model=m0-fp32&top_k=1000', jpeg);
      expect(response.status).toBe(200);
      alone.push(((await response.json()) as { predictions: Prediction[] }).predictions);
    }

    // A long window and a max batch of exactly the burst: the batch runs as soon as all 8 have arrived.
    const batched = await start({ batching: { windowMs: 3000, maxBatch: jpegs.length, maxQueue: 64 } });
    const responses = await Promise.all(jpegs.map((jpeg) => classify(batched, '?model=m0-fp32&top_k=1000', jpeg)));
    for (const [i, response] of responses.entries()) {
      expect(response.status).toBe(200);
      const predictions = ((await response.json()) as { predictions: Prediction[] }).predictions;
      const expected = new Map(alone[i].map((p) => [p.index, p.score]));
      const worst = Math.max(...predictions.map((p) => Math.abs(p.score - expected.get(p.index)!)));
      expect(worst, `image ${i}`).toBeLessThan(1e-6);
      expect(predictions.slice(0, 5).map((p) => p.index)).toEqual(alone[i].slice(0, 5).map((p) => p.index));
    }
    // Each image's top class differs from some other image's, so a mix-up would have shown.
    expect(new Set(alone.map((predictions) => predictions[0].index)).size).toBeGreaterThan(1);

    const models = (await (await fetch(`${batched.url}/v1/models`)).json()) as {
      execution: {
        batching: {
          enabled: boolean;
          models: Record<string, { batches: number; images: number; largestBatch: number }>;
        };
      };
    };
    const stats = models.execution.batching.models['m0-fp32'];
    expect(stats.images).toBe(jpegs.length);
    expect(stats.largestBatch).toBeGreaterThan(1);
    expect(stats.batches).toBeLessThan(jpegs.length);
  });

  it('a full queue answers 503 problem+json with Retry-After, and the server recovers', async () => {
    // Two images may wait; the window holds them for 3 s, so a third concurrent request finds the queue full.
    const server = await start({ batching: { windowMs: 3000, maxBatch: 8, maxQueue: 2 } });
    const responses = await Promise.all([0, 1, 2].map((i) => classify(server, '?model=m0-fp32', jpegs[i])));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses).toEqual([200, 200, 503]);
    const refused = responses.find((response) => response.status === 503)!;
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({
      type: 'tag:efficientvit-edge,2026:problem:overloaded',
      status: 503,
      code: 'overloaded',
      model: 'm0-fp32',
      limit: 2,
    });
    const again = await classify(server, '?model=m0-fp32', jpegs[3]);
    expect(again.status).toBe(200);
  });
});

describe('the demo page', () => {
  it('a models folder without the page built answers GET / with 404 not-found saying how to build it', async () => {
    const bare = mkdtempSync(path.join(os.tmpdir(), 'node-server-no-page-'));
    try {
      writeConformanceModels(bare);
      rmSync(path.join(bare, 'page'), { recursive: true });
      const server = await start({ modelsDir: bare });
      const response = await fetch(`${server.url}/`);
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ code: 'not-found', detail: expect.stringContaining('build:page') });
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });
});

describe('device choice', () => {
  it('auto without a usable CUDA device serves on CPU and says why', async () => {
    // Hidden GPUs make the fallback certain on any machine (CUDA reads this when it first initializes).
    process.env.CUDA_VISIBLE_DEVICES = '';
    const lines: [LogLevel, string][] = [];
    const server = await start({ device: 'auto' }, (level, message) => lines.push([level, message]));
    const models = (await (await fetch(`${server.url}/v1/models`)).json()) as {
      backend: string;
      execution: Record<string, unknown>;
    };
    expect(models.backend).toBe('onnxruntime-node/cpu');
    expect(models.execution).toMatchObject({ runtime: 'node', requested: 'auto', device: 'cpu', threads: 1 });
    expect(models.execution.reason).toMatch(/^cpu is the fallback: cuda failed \(.+\)$/);
    // 'auto' expects that CUDA may be missing: info, not a warning.
    expect(lines).toContainEqual([
      'info',
      expect.stringMatching(/device cpu \(requested auto\): cpu is the fallback: cuda failed/),
    ]);
    const response = await classify(server, '?model=m0-fp32', jpegs[0]);
    expect(response.status).toBe(200);
  });
});

describe('the model store', () => {
  it('reads files by plain relative name, answers null for missing ones, and refuses paths out of the directory', async () => {
    const files = createFsModelFiles(modelsDir);
    const manifest = await files.read('manifest.json');
    expect(JSON.parse(new TextDecoder().decode(manifest!)).version).toBe(1);
    expect(await files.read('not-there.onnx')).toBeNull();
    for (const name of ['../etc/passwd', '/etc/passwd', 'a/../../b', '']) {
      await expect(files.read(name)).rejects.toThrow(/not a plain relative path/);
    }
  });
});

/** A classify request that sends its headers, waits for the server's 100 Continue, and sends the body on demand. */
function heldRequest(
  url: string,
  body: Uint8Array,
): { accepted: Promise<void>; send(): void; response: Promise<{ status: number; body: string }> } {
  const request = http.request(`${url}/v1/classify?model=m0-fp32`, {
    method: 'POST',
    headers: { 'content-type': 'image/jpeg', 'content-length': body.length, expect: '100-continue' },
  });
  const accepted = new Promise<void>((resolve) => request.once('continue', () => resolve()));
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    request.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    request.once('error', reject);
  });
  request.flushHeaders();
  return { accepted, send: () => request.end(body), response };
}

describe('the start:node entry in a child process', () => {
  it('--device auto on a host without the CUDA provider: one info line, no native library error', async () => {
    const { child, output, url, exited } = spawnEntry(
      ['--port', '0', '--host', '127.0.0.1', '--device', 'auto', '--models', modelsDir],
      { CUDA_VISIBLE_DEVICES: '', DEFAULT_MODEL: 'm0-fp32' },
    );
    try {
      await url;
      // onnxruntime's own "Failed to load library libonnxruntime_providers_shared.so" must not reach the user.
      expect(output()).not.toMatch(/Failed to load library/);
      expect(output().match(/device cpu \(requested auto\)/g)).toHaveLength(1);
      expect(output()).toMatch(/info: device cpu \(requested auto\): cpu is the fallback: cuda failed \(.+\)/);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('--device cuda with no usable GPU falls back to CPU, logs why, and shows it in /v1/models', async () => {
    // No visible GPU: the fallback happens on any machine, GPU host or not.
    const { child, output, url, exited } = spawnEntry(
      ['--port', '0', '--host', '127.0.0.1', '--device', 'cuda', '--models', modelsDir],
      {
        CUDA_VISIBLE_DEVICES: '',
        DEFAULT_MODEL: 'm0-fp32',
      },
    );
    try {
      const base = await url;
      expect(output()).toMatch(/warn: device cpu \(requested cuda\): cpu is the fallback: cuda failed \(.+\)/);
      const models = (await (await fetch(`${base}/v1/models`)).json()) as {
        backend: string;
        default: string;
        execution: Record<string, unknown>;
      };
      expect(models.backend).toBe('onnxruntime-node/cpu');
      expect(models.default).toBe('m0-fp32');
      expect(models.execution).toMatchObject({
        requested: 'cuda',
        device: 'cpu',
        attempts: [
          { device: 'cuda', ok: false },
          { device: 'cpu', ok: true },
        ],
      });
      expect(models.execution.reason).toMatch(/cuda failed/);
      const response = await fetch(`${base}/v1/classify`, { method: 'POST', body: jpegs[0] });
      expect(response.status).toBe(200);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('on SIGTERM stops accepting, answers every request in flight, then exits 0', async () => {
    // A long batch window keeps the drained requests waiting in the batcher, too.
    const { child, output, url, exited } = spawnEntry([
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--device',
      'cpu',
      '--models',
      modelsDir,
      '--batch-window-ms',
      '300',
    ]);
    let stopped = false;
    try {
      const base = await url;
      const held = jpegs.slice(0, 3).map((jpeg) => heldRequest(base, jpeg));
      // 100 Continue: the server has read each request's headers, so all three are in flight.
      await Promise.all(held.map((request) => request.accepted));
      const stopping = new Promise<void>((resolve) => {
        const check = () =>
          /SIGTERM: stopping; 3 request\(s\) in flight/.test(output()) ? resolve() : setTimeout(check, 10);
        check();
      });
      child.kill('SIGTERM');
      await stopping;

      // Closed for new connections...
      await expect(fetch(`${base}/healthz`)).rejects.toThrow();
      // ...while the requests already received are answered in full.
      for (const request of held) request.send();
      const answers = await Promise.all(held.map((request) => request.response));
      for (const answer of answers) {
        expect(answer.status, answer.body).toBe(200);
        expect(JSON.parse(answer.body).predictions).toHaveLength(5);
      }
      expect(await exited).toBe(0);
      stopped = true;
      expect(output()).toMatch(/info: stopped/);
    } finally {
      if (!stopped) child.kill('SIGKILL');
    }
  });

  it('refuses bad flags with one error line pointing at --help, and exit code 2', async () => {
    const { output, exited } = spawnEntry(['--device', 'tpu']);
    expect(await exited).toBe(2);
    expect(output().trim()).toBe('error: --device must be one of cpu, cuda, auto, got "tpu" (--help for usage)');
  });
});
