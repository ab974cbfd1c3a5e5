/**
 * Node only: the same Hono app as the Worker, served over HTTP by @hono/node-server, with onnxruntime-node (CUDA or
 * CPU, chosen at start) and, optionally, dynamic batching of concurrent requests. Used by scripts/start-node.ts,
 * the Node tests and bench:node.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { createAdaptorServer } from '@hono/node-server';
import type { ManifestModel } from '../../core/manifest/manifest.js';
import { createApp } from '../../service/app.js';
import {
  DEFAULT_BATCHING,
  checkBatchingOptions,
  type BatchStats,
  type BatchingOptions,
} from '../../service/batching/batcher.js';
import { batchSessionRuns, type BatchedSession } from '../../service/batching/session.js';
import { createMemoryResultCache } from '../../service/cache/result-cache.js';
import { createImageSupport } from '../../core/model-input/image-input.js';
import type { ServiceConfig } from '../../service/config.js';
import { loadImageWasmModules } from './image-wasm.js';
import type { ModelFiles } from '../../service/registry/model-files.js';
import { checkManifest } from '../../core/manifest/check.js';
import { MANIFEST_FILE } from '../../core/manifest/manifest.js';
import { deviceUnavailable } from './cuda-provider.js';
import { chooseDevice, FALLBACK_LOG_LEVEL, type DeviceChoice, type DeviceRequest, type ProbeModel } from './device.js';
import { createFsModelFiles } from './fs-model-files.js';
import { refuseFp16Models } from './fp16-files.js';
import { createDecodePool, type DecodePool } from './decode-pool.js';
import { createThreadedOrtNodeBackend } from './threaded-backend.js';
import { chooseDefaultModel, createReadiness, StartupError } from './readiness.js';
import type { RequestRecord } from '../../service/http/request-log.js';
import { nodeUrlFetcher } from './url-fetcher.js';

export type LogLevel = 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string) => void;

export const consoleLogger: Logger = (level, message) => {
  const line = `[${new Date().toISOString()}] ${level}: ${message}`;
  if (level === 'info') console.log(line);
  else console.error(line);
};

export interface NodeServerOptions {
  /** Directory with manifest.json, label files and the ONNX files. */
  modelsDir: string;
  config: ServiceConfig;
  /** 0 picks a free port. */
  port: number;
  host: string;
  device: DeviceRequest;
  /** onnxruntime intra-op threads on CPU; 0 lets onnxruntime choose; 'auto' leaves one core to HTTP and decoding. */
  threads: number | 'auto';
  /** false: every request runs alone (the registry still runs one call at a time per model). */
  batching: BatchingOptions | false;
  /** How long close() waits for requests in flight before it drops them. */
  drainTimeoutMs: number;
  /** Decode/preprocess threads (decode-pool.ts); 0 decodes on the HTTP thread; 'auto' = cores − 1, at least 1. */
  decodeThreads: number | 'auto';
  /** Most images waiting for a decode thread; beyond it 503 overloaded + Retry-After. */
  decodeQueue: number;
  log: Logger;
  /**
   * true: the default model is the largest variant built (DEFAULT_MODEL unset); false: config.defaultModel, which
   * must be built (a StartupError says so otherwise).
   */
  largestDefault: boolean;
  /** true: no request lines (model loads are still logged). */
  quiet: boolean;
  /** Where the JSON log lines go (one per request, one per model load): stderr. */
  logLine: (line: string) => void;
}

export const NODE_SERVER_DEFAULTS = Object.freeze({
  port: 8080,
  host: '0.0.0.0',
  device: 'auto',
  threads: 'auto',
  batching: DEFAULT_BATCHING,
  drainTimeoutMs: 30_000,
  decodeThreads: 'auto',
  decodeQueue: 256,
  log: consoleLogger,
  largestDefault: false,
  quiet: false,
  logLine: (line: string) => void process.stderr.write(`${line}\n`),
} satisfies Partial<NodeServerOptions>);

/**
 * 'auto': every core but one, which the HTTP thread needs for reading and decoding while inference runs. onnxruntime's
 * own default (one thread per physical core) competes with it, and on a small or shared machine its threads then
 * wait on each other: on the 2-core development machine, M5 ran 3–4× slower with 2 threads than with 1.
 */
export function resolveThreads(threads: number | 'auto'): number {
  return threads === 'auto' ? Math.max(1, availableParallelism() - 1) : threads;
}

/** 'auto': a decode thread per core but one, and at least one, so decoding never runs on the HTTP thread. */
export function resolveDecodeThreads(threads: number | 'auto'): number {
  return threads === 'auto' ? Math.max(1, availableParallelism() - 1) : threads;
}

export interface NodeServer {
  url: string;
  port: number;
  device: Omit<DeviceChoice, 'backend'>;
  /** Requests received and not yet answered. */
  inFlight(): number;
  /**
   * Graceful stop: it stops listening before it returns; every request already received is then answered,
   * keep-alive connections are closed, and it resolves, `false` if the drain timeout cut requests off.
   */
  close(): Promise<boolean>;
}

/** The configured default model, checked against the manifest, or the largest built one. */
async function resolveDefaultModel(files: ModelFiles, options: NodeServerOptions): Promise<string> {
  let manifest;
  try {
    const bytes = await files.read(MANIFEST_FILE);
    if (!bytes) throw new Error(`no ${MANIFEST_FILE}`);
    manifest = checkManifest(JSON.parse(new TextDecoder().decode(bytes)));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // Without a readable manifest nothing can be served; a configured default is kept so the errors name it.
    if (!options.largestDefault) {
      options.log('warn', `cannot read the manifest in ${options.modelsDir}: ${reason}`);
      return options.config.defaultModel;
    }
    throw new StartupError(`cannot read the manifest in ${options.modelsDir} (${reason}): build the models first`);
  }
  return chooseDefaultModel(
    manifest,
    options.largestDefault ? undefined : options.config.defaultModel,
    options.modelsDir,
  );
}

/** The default model (or else the first listed) as a real model to try devices on; undefined if none can be read. */
async function probeModel(files: ModelFiles, defaultModel: string, log: Logger): Promise<ProbeModel | undefined> {
  try {
    const bytes = await files.read(MANIFEST_FILE);
    if (!bytes) return undefined;
    const manifest = checkManifest(JSON.parse(new TextDecoder().decode(bytes)));
    const entry: ManifestModel | undefined =
      manifest.models.find((model) => model.name === defaultModel) ?? manifest.models[0];
    if (!entry) return undefined;
    const model = await files.read(entry.file);
    if (!model) return undefined;
    const [, channels, height, width] = entry.input.shape;
    return { name: entry.name, bytes: model, inputDims: [1, channels, height, width] };
  } catch (error) {
    log('warn', `cannot read a model to try devices on: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

function describeDevice(choice: DeviceChoice): string {
  return `device ${choice.device} (requested ${choice.requested}): ${choice.reason}`;
}

export async function startNodeServer(
  overrides: Partial<NodeServerOptions> & Pick<NodeServerOptions, 'modelsDir' | 'config'>,
): Promise<NodeServer> {
  const options: NodeServerOptions = { ...NODE_SERVER_DEFAULTS, ...overrides };
  const { log, logLine } = options;
  const batching = options.batching === false ? false : checkBatchingOptions(options.batching);
  const threads = resolveThreads(options.threads);
  const files = createFsModelFiles(options.modelsDir);
  const config = { ...options.config, defaultModel: await resolveDefaultModel(files, options) };

  let probe: Promise<ProbeModel | undefined> | undefined;
  const choice = await chooseDevice(
    options.device,
    () => (probe ??= probeModel(files, config.defaultModel, log)),
    (device) => createThreadedOrtNodeBackend({ device, threads }),
    deviceUnavailable,
  );
  probe = undefined; // the probe model's bytes are not needed any more
  log(
    choice.attempts.some((attempt) => !attempt.ok) ? FALLBACK_LOG_LEVEL[choice.requested] : 'info',
    describeDevice(choice),
  );

  /** Requests received and not yet answered. */
  let inFlight = 0;
  const batched = new Map<string, BatchedSession>();
  const batchingInfo = () =>
    batching === false
      ? { enabled: false }
      : {
          enabled: true,
          ...batching,
          models: Object.fromEntries(
            [...batched].map(([name, session]): [string, BatchStats] => [name, session.stats()]),
          ),
        };
  const device = {
    requested: choice.requested,
    device: choice.device,
    reason: choice.reason,
    attempts: choice.attempts,
  };

  const decodeThreads = resolveDecodeThreads(options.decodeThreads);
  let pool: DecodePool | undefined;
  try {
    if (decodeThreads > 0) pool = await createDecodePool({ threads: decodeThreads, maxQueue: options.decodeQueue });
  } catch (error) {
    await choice.backend.terminate();
    throw error;
  }
  const decode = () => (pool ? pool.stats() : { threads: 0 });

  const app = createApp({
    backend: choice.backend,
    files: choice.device === 'cpu' ? refuseFp16Models(files, choice.device) : files,
    images: pool ?? createImageSupport(await loadImageWasmModules()),
    config,
    wrapSession: (session, model) => {
      // Called once per session created: the model-load log line.
      logLine(
        JSON.stringify({ time: new Date().toISOString(), event: 'model-load', model: model.name, bytes: model.bytes }),
      );
      if (batching === false) return session;
      const wrapped = batchSessionRuns(session, batching, model.name);
      batched.set(model.name, wrapped);
      return wrapped;
    },
    ...(options.quiet
      ? {}
      : {
          requestLog: (record: RequestRecord, request: Request) => {
            if (request !== warmUp) logLine(JSON.stringify(record));
          },
        }),
    resultCache: createMemoryResultCache(),
    urlFetcher: nodeUrlFetcher,
    // inFlight counts this /v1/models request too.
    execution: () => ({
      runtime: 'node',
      ...device,
      threads,
      // Where logits land: a buffer of ours on CUDA (ort-node.ts), onnxruntime's own on CPU.
      outputs: choice.device === 'cuda' ? 'preallocated' : 'onnxruntime',
      batching: batchingInfo(),
      decode: decode(),
      inFlight,
    }),
  });

  const readiness = createReadiness(config.defaultModel);
  let warmUp: Request | undefined;
  const server = createAdaptorServer({
    fetch: (request: Request) =>
      new URL(request.url).pathname === '/readyz' ? readiness.response() : app.fetch(request),
  }) as Server;
  let draining = false;
  let drained: (() => void) | undefined;
  server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
    inFlight++;
    // While draining, answer on this connection and close it, so keep-alive clients move on.
    if (draining) response.setHeader('Connection', 'close');
    response.once('close', () => {
      inFlight--;
      if (draining && inFlight === 0) drained?.();
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await pool?.close();
    await choice.backend.terminate();
    throw error;
  }
  // The warm-up goes through the whole app (decode, preprocessing, the batcher), as a first request would.
  void readiness
    .warm((png) => {
      warmUp = new Request(`http://warm-up/v1/classify?model=${encodeURIComponent(config.defaultModel)}`, {
        method: 'POST',
        body: png,
        headers: {
          'content-type': 'image/png',
          ...(config.apiToken ? { authorization: `Bearer ${config.apiToken}` } : {}),
        },
      });
      return Promise.resolve(app.fetch(warmUp));
    })
    .then(() =>
      readiness.ready()
        ? log('info', `ready: ${config.defaultModel} ${readiness.describe()}`)
        : log('error', `not ready: ${readiness.describe()}`),
    );
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  log(
    'info',
    `listening on ${url} (models ${options.modelsDir}, default ${config.defaultModel}, ` +
      `batching ${batching === false ? 'off' : `window ${batching.windowMs} ms, max ${batching.maxBatch}, queue ${batching.maxQueue}`}, ` +
      `decode ${decodeThreads === 0 ? 'on the HTTP thread' : `${decodeThreads} thread(s), queue ${options.decodeQueue}`})`,
  );

  let closing: Promise<boolean> | undefined;
  const close = () =>
    (closing ??= (async () => {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Node closes idle keep-alive sockets on close(); busy ones are closed as their answers go out.
      server.closeIdleConnections();
      let complete = true;
      if (inFlight > 0) {
        log('info', `draining ${inFlight} request(s) in flight`);
        let timer: ReturnType<typeof setTimeout> | undefined;
        complete = await Promise.race([
          new Promise<boolean>((resolve) => (drained = () => resolve(true))),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), options.drainTimeoutMs))),
        ]);
        clearTimeout(timer);
        if (!complete)
          log('error', `drain timeout: dropping ${inFlight} request(s) after ${options.drainTimeoutMs} ms`);
      }
      server.closeAllConnections();
      await closed;
      // Every request is answered (or dropped) by now, so no image is left to decode.
      await pool?.close();
      await choice.backend.terminate();
      log('info', 'stopped');
      return complete;
    })());

  return { url, port: address.port, device, inFlight: () => inFlight, close };
}
