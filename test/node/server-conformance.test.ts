/**
 * The shared conformance cases (test/conformance/cases.ts) against the Node server: real HTTP on a random port,
 * onnxruntime-node, dynamic batching on (its default settings), models written by test/conformance/models.ts.
 *
 * CONFORMANCE_DEVICE=cuda (scripts/gpu-check.sh) runs the same cases on the GPU, and then also requires that the
 * server really chose CUDA; by default they run on CPU.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { startTestNodeServer } from '../helpers/node-server.js';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_BATCHING } from '../../worker/batching/batcher.js';
import { DEVICE_REQUESTS, type DeviceRequest } from '../../worker/node/device.js';
import type { NodeServer } from '../../worker/node/server.js';
import { defineConformanceSuite } from '../conformance/cases.js';
import { defineOpenApiSuite } from '../conformance/openapi.cases.js';
import { defineUrlAndCacheSuite } from '../conformance/url-cache.cases.js';
import { type ImageOrigin, startImageOrigin } from '../helpers/image-origin.js';
import { sharedRoot, writeConformanceModels } from '../conformance/models.js';
import type { ConformanceTarget } from '../conformance/target.js';

const device = (process.env.CONFORMANCE_DEVICE ?? 'cpu') as DeviceRequest;
if (!DEVICE_REQUESTS.includes(device))
  throw new Error(`CONFORMANCE_DEVICE must be one of ${DEVICE_REQUESTS.join(', ')}`);

let server: NodeServer;
let imageOrigin: ImageOrigin;
let modelsDir: string;

beforeAll(async () => {
  imageOrigin = await startImageOrigin();
  modelsDir = mkdtempSync(path.join(os.tmpdir(), 'conformance-models-'));
  writeConformanceModels(modelsDir);
  server = await startTestNodeServer(modelsDir, {
    device,
    threads: device === 'cpu' ? 1 : 0,
    batching: DEFAULT_BATCHING,
  });
});

afterAll(async () => {
  await server?.close();
  await imageOrigin?.close();
  if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
});

it(`serves on the requested device (${device})`, () => {
  // 'auto' may settle on either; an explicit device must not have fallen back.
  if (device !== 'auto') expect(server.device.device).toBe(device);
  expect(server.device.attempts.at(-1)).toMatchObject({ device: server.device.device, ok: true });
});

const target = (): ConformanceTarget => ({
  name: 'node',
  fetch: (requestPath, init) => fetch(server.url + requestPath, init),
  shared: async (file) => new Uint8Array(await readFile(path.join(sharedRoot, file))),
});

defineConformanceSuite(target);
defineUrlAndCacheSuite(target, () => imageOrigin.url);
defineOpenApiSuite(target, () => imageOrigin.url);
