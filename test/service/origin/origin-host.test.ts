/**
 * The Node build as the edge's GPU origin, through its real entry in a child process: the default model is the
 * largest built, a DEFAULT_MODEL that is not built stops it at start, a JSON line per request and per model load on
 * stderr (`--quiet` keeps the model loads), GET /readyz, and SIGTERM to `npm run start:node`'s own npm process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedRoot, writeConformanceModels } from '../conformance/models.js';
import { spawnEntry } from '../../helpers/node-entry.js';

let modelsDir: string;
let jpeg: Uint8Array;
const base = ['--port', '0', '--host', '127.0.0.1', '--device', 'cpu', '--threads', '1'];

beforeAll(() => {
  modelsDir = mkdtempSync(path.join(os.tmpdir(), 'node-origin-host-'));
  writeConformanceModels(modelsDir);
  jpeg = new Uint8Array(readFileSync(path.join(sharedRoot, 'images/imagenet-sample/n01440764_tench.JPEG')));
});
afterAll(() => rmSync(modelsDir, { recursive: true, force: true }));

async function waitReady(url: string): Promise<Response> {
  for (;;) {
    const response = await fetch(`${url}/readyz`);
    if (response.status === 200) return response;
    await response.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The JSON lines in the output (the plain log lines are not JSON). */
function jsonLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the Node build as an origin', () => {
  it('serves the largest variant built by default, is ready once it has classified an image, logs JSON lines', async () => {
    const { child, output, url, exited } = spawnEntry([...base, '--models', modelsDir]);
    try {
      const origin = await url;
      // The conformance folder has M0 and M1 (and tiny test models): M1 is the largest variant.
      const ready = await waitReady(origin);
      expect(await ready.json()).toEqual({ status: 'ready', model: 'm1-fp32' });
      const models = (await (await fetch(`${origin}/v1/models`)).json()) as { default: string };
      expect(models.default).toBe('m1-fp32');
      const response = await fetch(`${origin}/v1/classify?top_k=1`, {
        method: 'POST',
        body: jpeg,
        headers: { 'content-type': 'image/jpeg' },
      });
      expect(((await response.json()) as { model: string }).model).toBe('efficientvit_m1.fp32');
      const form = new FormData();
      for (let i = 0; i < 3; i++) form.append('image', new Blob([jpeg]), `${i}.jpg`);
      expect((await fetch(`${origin}/v1/classify?model=m0-fp32`, { method: 'POST', body: form })).status).toBe(200);
      await expect.poll(() => jsonLines(output()).filter((line) => line.path === '/v1/classify').length).toBe(2);

      const lines = jsonLines(output());
      // One line per model load (the warm-up's M1, then M0), none for the warm-up request or the readiness probes.
      expect(lines.filter((line) => line.event === 'model-load').map((line) => line.model)).toEqual([
        'm1-fp32',
        'm0-fp32',
      ]);
      const requests = lines.filter((line) => line.event === undefined);
      // The same record as the edge's (service/http/request-log.ts); id, times and stage times vary per run.
      const common = { problem: null, ran: 'here', colo: null, bytes_out: null };
      expect(requests.map(({ time, ms, id, stages, ...rest }) => rest)).toEqual([
        {
          ...common,
          method: 'GET',
          path: '/v1/models',
          route: '/v1/models',
          model: null,
          status: 200,
          batch: null,
          cache: null,
          bytes_in: null,
        },
        {
          ...common,
          method: 'POST',
          path: '/v1/classify',
          route: '/v1/classify',
          model: 'm1-fp32',
          status: 200,
          batch: 1,
          cache: 'miss',
          bytes_in: expect.any(Number),
        },
        {
          ...common,
          method: 'POST',
          path: '/v1/classify',
          route: '/v1/classify',
          model: 'm0-fp32',
          status: 200,
          batch: 3,
          cache: null,
          bytes_in: expect.any(Number),
        },
      ]);
      for (const line of requests) {
        expect(Date.parse(line.time as string)).toBeGreaterThan(0);
        expect(line.ms).toEqual(expect.any(Number));
        expect(line.id).toEqual(expect.any(String));
      }
      expect(Object.keys(requests[1].stages as object)).toContain('total_ms');
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('--quiet: no request lines, model loads still logged', async () => {
    const { child, output, url, exited } = spawnEntry([...base, '--models', modelsDir, '--quiet'], {
      DEFAULT_MODEL: 'tiny',
    });
    try {
      const origin = await url;
      await waitReady(origin);
      expect((await fetch(`${origin}/v1/models`)).status).toBe(200);
      const lines = jsonLines(output());
      expect(lines).toEqual([
        { time: expect.any(String), event: 'model-load', model: 'tiny', bytes: expect.any(Number) },
      ]);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });

  it('a DEFAULT_MODEL that is not built stops the server at start with a message that says so', async () => {
    const { output, exited } = spawnEntry([...base, '--models', modelsDir], { DEFAULT_MODEL: 'm5-fp32' });
    expect(await exited).toBe(1);
    expect(output()).toMatch(
      /error: cannot start: DEFAULT_MODEL m5-fp32 is not built in .+ \(built: m0-fp32, m1-fp32, tiny/,
    );
    expect(output()).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it('/readyz stays 503 not-ready, with the reason, while the default model cannot run; /healthz is 200', async () => {
    const { child, url, exited } = spawnEntry([...base, '--models', modelsDir], { DEFAULT_MODEL: 'tiny-corrupt' });
    try {
      const origin = await url;
      let problem: Record<string, unknown> = {};
      await expect
        .poll(async () => {
          problem = (await (await fetch(`${origin}/readyz`)).json()) as Record<string, unknown>;
          return String(problem.detail);
        })
        .toMatch(/warm-up request answered 503/);
      expect(problem).toMatchObject({ status: 503, code: 'not-ready', model: 'tiny-corrupt' });
      expect((await fetch(`${origin}/healthz`)).status).toBe(200);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
  });

  it("SIGTERM to `npm run start:node`'s npm process stops the server", async () => {
    const npm = spawnEntry(['--', ...base, '--models', modelsDir], { DEFAULT_MODEL: 'tiny' }, [
      'npm',
      'run',
      '--silent',
      'start:node',
    ]);
    const origin = await npm.url;
    await waitReady(origin);
    npm.child.kill('SIGTERM');
    expect(await npm.exited).not.toBeNull();
    expect(npm.output()).toMatch(/info: stopped/);
    await expect(fetch(`${origin}/healthz`)).rejects.toThrow();
  });
});
