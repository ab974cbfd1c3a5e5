/**
 * The shared conformance cases (test/service/conformance/*.cases.ts) against the Node server: real HTTP on a random port,
 * onnxruntime-node, dynamic batching on (its default settings), models written by test/service/conformance/models.ts.
 * One call per test file, each with its own server (decoding on the HTTP thread, or through the decode pool).
 *
 * CONFORMANCE_DEVICE=cuda (scripts/gpu-check.sh) runs the same cases on the GPU, and then also requires that the
 * server really chose CUDA; by default they run on CPU.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEFAULT_BATCHING } from '../../../worker/service/batching/batcher.js';
import { DEVICE_REQUESTS, type DeviceRequest } from '../../../worker/runtimes/node/device.js';
import type { NodeServer, NodeServerOptions } from '../../../worker/runtimes/node/server.js';
import { parseConfig } from '../../../worker/service/config.js';
import { skipCases } from './case.js';
import { defineConformanceSuite } from './cases.js';
import { defineConfigCases } from './config.cases.js';
import { defineOpenApiSuite } from './openapi.cases.js';
import { defineEmbedCases } from './embed.cases.js';
import { defineErrorCases } from './errors.cases.js';
import { referenceEmbeddings, repoRoot, sharedRoot, writeConformanceModels, writeSolidColourImages } from './models.js';
import { defineServiceCases } from './service.cases.js';
import { CONFORMANCE_CONFIG, type ConformanceTarget } from './target.js';
import type { TinyModelInfo } from './test-data.js';
import { defineUrlAndCacheSuite } from './url-cache.cases.js';
import { type ImageOrigin, startImageOrigin } from '../../helpers/image-origin.js';
import { startTestNodeServer } from '../../helpers/node-server.js';

/** A Request built for any host, sent to `to` over real HTTP. */
function sendTo(to: NodeServer, request: Request): Promise<Response> {
  const url = new URL(request.url);
  return fetch(to.url + url.pathname + url.search, {
    method: request.method,
    headers: request.headers,
    body: request.body,
    // Node's fetch needs this to stream a request body.
    duplex: 'half',
  } as RequestInit);
}

export function defineNodeConformance(overrides: Partial<NodeServerOptions>): { server(): NodeServer } {
  const device = (process.env.CONFORMANCE_DEVICE ?? 'cpu') as DeviceRequest;
  if (!DEVICE_REQUESTS.includes(device))
    throw new Error(`CONFORMANCE_DEVICE must be one of ${DEVICE_REQUESTS.join(', ')}`);

  let server: NodeServer;
  /** Servers with another config (withConfig), closed with the main one. */
  const others: NodeServer[] = [];
  let imagesDir: string;
  const tinyModels: TinyModelInfo[] = [];
  // Computed once (the float64 reference is slow) before any case asks for the target.
  const goldenEmbeddings = {} as ConformanceTarget['referenceEmbeddings'];
  let imageOrigin: ImageOrigin;
  let modelsDir: string;

  beforeAll(async () => {
    imageOrigin = await startImageOrigin();
    modelsDir = mkdtempSync(path.join(os.tmpdir(), 'conformance-models-'));
    const { tiny, tiny10 } = writeConformanceModels(modelsDir);
    Object.assign(goldenEmbeddings, { m0: referenceEmbeddings('m0'), m1: referenceEmbeddings('m1') });
    tinyModels.push(
      { name: 'tiny', classes: tiny.classes, weights: tiny.weights, bias: tiny.bias },
      { name: 'tiny-10', classes: tiny10.classes, weights: tiny10.weights, bias: tiny10.bias },
    );
    imagesDir = mkdtempSync(path.join(os.tmpdir(), 'conformance-images-'));
    await writeSolidColourImages((name, bytes) => writeFileSync(path.join(imagesDir, name), bytes));
    server = await startTestNodeServer(modelsDir, {
      device,
      threads: device === 'cpu' ? 1 : 0,
      batching: DEFAULT_BATCHING,
      ...overrides,
    });
  });

  afterAll(async () => {
    await server?.close();
    await Promise.all(others.map((other) => other.close()));
    await imageOrigin?.close();
    if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
    if (imagesDir) rmSync(imagesDir, { recursive: true, force: true });
  });

  it(`serves on the requested device (${device})`, () => {
    // 'auto' may settle on either; an explicit device must not have fallen back.
    if (device !== 'auto') expect(server.device.device).toBe(device);
    expect(server.device.attempts.at(-1)).toMatchObject({ device: server.device.device, ok: true });
  });

  const fileRoots = (): Record<string, string> => ({
    shared: sharedRoot,
    fixtures: path.join(repoRoot, 'test/fixtures'),
    generated: imagesDir,
  });

  const target = (): ConformanceTarget => ({
    name: 'node',
    fetch: (requestPath, init) => fetch(server.url + requestPath, init),
    shared: async (file) => new Uint8Array(await readFile(path.join(sharedRoot, file))),
    send: (request) => sendTo(server, request),
    file: async (file) => {
      const [root, ...rest] = file.split('/');
      return new Uint8Array(await readFile(path.join(fileRoots()[root], ...rest)));
    },
    tinyModels,
    referenceEmbeddings: goldenEmbeddings,
    withConfig: async (config) => {
      // Another server on the same models and options, with the config overridden.
      const other = await startTestNodeServer(modelsDir, {
        threads: 1,
        ...overrides,
        config: { ...parseConfig(CONFORMANCE_CONFIG), ...config },
      });
      others.push(other);
      return (request) => sendTo(other, request);
    },
  });

  // Every case runs on the Node server too: what differs (the bounded batching queue) is tested beside it.
  skipCases({});
  defineConformanceSuite(target);
  defineUrlAndCacheSuite(target, () => imageOrigin.url);
  defineErrorCases(target);
  defineServiceCases(target);
  defineConfigCases(target);
  defineOpenApiSuite(target, () => imageOrigin.url);
  defineEmbedCases(target);
  return { server: () => server };
}
