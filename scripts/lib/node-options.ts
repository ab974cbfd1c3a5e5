/**
 * Node only: `npm run start:node -- [flags]` → server options. Flags win over environment variables; the service
 * limits (MAX_BODY_BYTES, MAX_MEGAPIXELS, MAX_BATCH, DEFAULT_MODEL, API_TOKEN, CORS_ORIGINS) come from the
 * environment exactly as the Worker reads them from wrangler.toml [vars].
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_BATCHING, checkBatchingOptions } from '../../worker/service/batching/batcher.js';
import { parseConfig, type ConfigVars } from '../../worker/service/config.js';
import { DEVICE_REQUESTS, type DeviceRequest } from '../../worker/runtimes/node/device.js';
import { UsageError } from './cli.js';
import { NODE_SERVER_DEFAULTS, type NodeServerOptions } from '../../worker/runtimes/node/server.js';

export const USAGE = `usage: npm run start:node -- [options]

  --port N               TCP port (env PORT; default ${NODE_SERVER_DEFAULTS.port}; 0 picks a free one)
  --host ADDRESS         address to listen on (env HOST; default ${NODE_SERVER_DEFAULTS.host})
  --device cpu|cuda|auto execution device (env DEVICE; default ${NODE_SERVER_DEFAULTS.device}); cuda and auto fall
                         back to cpu, with the reason logged and shown in GET /v1/models
  --threads N|auto       CPU intra-op threads (env THREADS; default auto = all cores but one, left to HTTP and
                         decoding; 0 = onnxruntime's own choice, one per physical core)
  --models DIR           manifest.json and ONNX files (env MODELS_DIR; default ./models/build/node)
  --batch-window-ms MS   how long a batch waits for more requests (env BATCH_WINDOW_MS; default ${DEFAULT_BATCHING.windowMs})
  --batch-max N          most images per inference call (env BATCH_MAX; default ${DEFAULT_BATCHING.maxBatch})
  --batch-queue N        most images waiting; beyond it 503 + Retry-After (env BATCH_QUEUE; default ${DEFAULT_BATCHING.maxQueue})
  --no-batching          run every request on its own (env BATCHING=off; BATCHING=on is the default)
  --decode-threads N|auto  decode/preprocess threads (env DECODE_THREADS; default auto = cores − 1, at least 1;
                         0 = decode on the HTTP thread)
  --decode-queue N       most images waiting for a decode thread; beyond it 503 + Retry-After (env DECODE_QUEUE;
                         default ${NODE_SERVER_DEFAULTS.decodeQueue})
  --drain-timeout-ms MS  on SIGTERM, how long to wait for requests in flight (default ${NODE_SERVER_DEFAULTS.drainTimeoutMs})
  --quiet                no JSON line per request on stderr (env QUIET=1; model loads are still logged)
  --help

environment: MAX_BODY_BYTES, MAX_MEGAPIXELS, MAX_BATCH, DEFAULT_MODEL (default: the largest variant built, m5-fp32 when
all are; one that is not built stops the start), API_TOKEN,
CORS_ORIGINS, as for the Worker (docs/api.md).`;

export { UsageError };

type NodeEnv = ConfigVars &
  Partial<
    Record<
      | 'PORT'
      | 'HOST'
      | 'DEVICE'
      | 'THREADS'
      | 'MODELS_DIR'
      | 'BATCH_WINDOW_MS'
      | 'BATCH_MAX'
      | 'BATCH_QUEUE'
      | 'BATCHING'
      | 'DECODE_THREADS'
      | 'DECODE_QUEUE'
      | 'QUIET',
      string
    >
  >;

function integer(name: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function milliseconds(name: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0)
    throw new UsageError(`${name} must be a number of milliseconds ≥ 0, got ${JSON.stringify(raw)}`);
  return value;
}

export type CliResult = { help: true } | { help: false; options: Omit<NodeServerOptions, 'log' | 'logLine'> };

export function parseNodeCli(argv: readonly string[], env: NodeEnv, cwd: string): CliResult {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        device: { type: 'string' },
        threads: { type: 'string' },
        models: { type: 'string' },
        'batch-window-ms': { type: 'string' },
        'batch-max': { type: 'string' },
        'batch-queue': { type: 'string' },
        'no-batching': { type: 'boolean' },
        'drain-timeout-ms': { type: 'string' },
        'decode-threads': { type: 'string' },
        'decode-queue': { type: 'string' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help) return { help: true };

  // An empty environment variable counts as unset, as parseConfig treats the service limits.
  const pick = (flag: string | undefined, variable: string | undefined) =>
    flag ?? (variable?.trim() ? variable.trim() : undefined);
  const device = pick(values.device, env.DEVICE) ?? NODE_SERVER_DEFAULTS.device;
  if (!DEVICE_REQUESTS.includes(device as DeviceRequest))
    throw new UsageError(`--device must be one of ${DEVICE_REQUESTS.join(', ')}, got ${JSON.stringify(device)}`);

  const batchingVariable = pick(undefined, env.BATCHING)?.toLowerCase();
  if (batchingVariable !== undefined && batchingVariable !== 'on' && batchingVariable !== 'off') {
    throw new UsageError(`BATCHING must be on or off, got ${JSON.stringify(env.BATCHING)}`);
  }
  const batchingOff = values['no-batching'] === true || batchingVariable === 'off';
  let batching: NodeServerOptions['batching'] = false;
  if (!batchingOff) {
    const windowMs = pick(values['batch-window-ms'], env.BATCH_WINDOW_MS);
    const maxBatch = pick(values['batch-max'], env.BATCH_MAX);
    const maxQueue = pick(values['batch-queue'], env.BATCH_QUEUE);
    batching = checkBatchingOptions({
      windowMs: windowMs === undefined ? DEFAULT_BATCHING.windowMs : milliseconds('--batch-window-ms', windowMs),
      maxBatch: maxBatch === undefined ? DEFAULT_BATCHING.maxBatch : integer('--batch-max', maxBatch, 1),
      maxQueue: maxQueue === undefined ? DEFAULT_BATCHING.maxQueue : integer('--batch-queue', maxQueue, 1),
    });
  }

  const port = pick(values.port, env.PORT);
  const threads = pick(values.threads, env.THREADS);
  const drain = values['drain-timeout-ms'];
  const decodeThreads = pick(values['decode-threads'], env.DECODE_THREADS);
  const decodeQueue = pick(values['decode-queue'], env.DECODE_QUEUE);
  let config;
  try {
    config = parseConfig(env);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  return {
    help: false,
    options: {
      modelsDir: path.resolve(cwd, pick(values.models, env.MODELS_DIR) ?? 'models/build/node'),
      config,
      port: port === undefined ? NODE_SERVER_DEFAULTS.port : integer('--port', port, 0, 65535),
      host: pick(values.host, env.HOST) ?? NODE_SERVER_DEFAULTS.host,
      device: device as DeviceRequest,
      threads: threads === undefined || threads === 'auto' ? 'auto' : integer('--threads', threads, 0, 1024),
      batching,
      drainTimeoutMs:
        drain === undefined ? NODE_SERVER_DEFAULTS.drainTimeoutMs : milliseconds('--drain-timeout-ms', drain),
      decodeThreads:
        decodeThreads === undefined || decodeThreads === 'auto'
          ? 'auto'
          : integer('--decode-threads', decodeThreads, 0, 1024),
      decodeQueue:
        decodeQueue === undefined ? NODE_SERVER_DEFAULTS.decodeQueue : integer('--decode-queue', decodeQueue, 1),
      largestDefault: !env.DEFAULT_MODEL?.trim(),
      quiet: values.quiet === true || ['1', 'true', 'on'].includes(pick(undefined, env.QUIET)?.toLowerCase() ?? ''),
    },
  };
}
