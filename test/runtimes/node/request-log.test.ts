/**
 * The Node build's request log line (stdout, one JSON object per request) over real HTTP: the same record as the
 * edge's (worker/service/http/request-log.ts; test/runtimes/workerd/ops.workerd.test.ts checks the Worker's), with
 * no token or image in it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { NodeServer } from '../../../worker/runtimes/node/server.js';
import type { RequestRecord } from '../../../worker/service/http/request-log.js';
import { parseConfig } from '../../../worker/service/config.js';
import { startTestNodeServer } from '../../helpers/node-server.js';
import { CONFORMANCE_CONFIG } from '../../service/conformance/target.js';
import { writeConformanceModels, writeSolidColourImages } from '../../service/conformance/models.js';

let dir: string;
let server: NodeServer;
const lines: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'node-request-log-'));
  writeConformanceModels(path.join(dir, 'models'));
  await writeSolidColourImages((name, bytes) => writeFileSync(path.join(dir, name), bytes));
  server = await startTestNodeServer(path.join(dir, 'models'), {
    logLine: (line) => void lines.push(line),
    config: parseConfig({ ...CONFORMANCE_CONFIG, API_TOKEN: 'node-log-token' }),
  });
});

afterAll(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('one line per request with the edge record: route, problem, stages, cache, bytes, ran', async () => {
  const png = await readFile(path.join(dir, 'crimson.png'));
  const headers = { authorization: 'Bearer node-log-token', 'content-type': 'image/png' };
  const requests = lines.length;
  const ok = await fetch(`${server.url}/v1/classify?model=tiny&top_k=2`, { method: 'POST', body: png, headers });
  expect(ok.status).toBe(200);
  await ok.arrayBuffer();
  const missing = await fetch(`${server.url}/v1/classify?model=no-such-model`, { method: 'POST', body: png, headers });
  expect(missing.status).toBe(404);
  await missing.arrayBuffer();
  const records = lines
    .slice(requests)
    .map((line) => JSON.parse(line) as RequestRecord & { event?: string })
    .filter((record) => record.event === undefined);
  expect(records).toHaveLength(2);
  for (const line of lines) expect(line).not.toContain('node-log-token');
  expect(Object.keys(records[0]).sort()).toEqual(
    [
      ...['time', 'id', 'method', 'path', 'route', 'model', 'status', 'problem', 'ms', 'batch', 'stages', 'cache'],
      ...['bytes_in', 'bytes_out', 'ran', 'colo'],
    ].sort(),
  );
  expect(records[0]).toMatchObject({
    method: 'POST',
    route: '/v1/classify',
    model: 'tiny',
    status: 200,
    problem: null,
    batch: 1,
    cache: 'miss',
    bytes_in: png.length,
    ran: 'here',
    colo: null,
  });
  expect(records[0].stages.inference_ms).toBeGreaterThanOrEqual(0);
  expect(records[1]).toMatchObject({ status: 404, problem: 'unknown-model', route: '/v1/classify' });
});
