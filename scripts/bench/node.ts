/**
 * `npm run bench:node`: throughput (img/s) and latency (p50/p99) of the Node server through HTTP, with autocannon, at
 * several concurrencies, for M0 and M5 fp32, dynamic batching off and on, side by side in one run: both servers run as
 * child processes (the real `start:node` entry), and each measurement alternates off/on so drift in machine load hits
 * both alike. Reports medians over rounds and the on/off ratio, next to the paper's CPU figure for context.
 *
 *   npm run bench:node -- [--models DIR] [--variants m0,m5] [--concurrency 1,8,32] [--duration 8] [--rounds 1]
 *                         [--device cpu|cuda|auto] [--threads N|auto] [--batch-window-ms 2] [--batch-max 16] [--json FILE]
 *                         [--batching off,on] [--decode-threads auto|N,M,…] [--inference-batches 1,16|none]
 *                         [--precision fp32|fp16]
 *
 * Every combination of --batching and --decode-threads is one server; each measurement interleaves all of them. The
 * report adds what sizes a host: each decode thread's img/s (its decode + preprocess time per image, read from the
 * servers) and onnxruntime's own img/s per batch size (in this process, no HTTP or decoding). On Linux it also accounts
 * each run's CPU (proc-cpu.ts, cpu-report.ts): the server's threads by role (HTTP, inference, decode, V8/libuv), the
 * bench's own (autocannon) and the rest of the machine, as cores busy and CPU ms per image, and the ceiling
 * img/s ≤ cores ÷ CPU seconds per image next to each img/s: what more threads can reach on this machine's cores.
 *   npm run bench:node -- --report FILE    (prints a --json FILE's report again, e.g. one a GPU host wrote)
 *   npm run bench:node -- --decoders [--rounds 5]
 *
 * --decoders instead compares, for the Node build, the service's decoders (worker/core/image, WebAssembly) with sharp
 * (native libjpeg-turbo via libvips, a dev dependency today): decode time per image (interleaved, medians), throughput
 * of 16 concurrent decodes, and the golden preprocessing bar (our tensors vs the official ones, with either decoder).
 *
 * Without --models, it builds synthetic fp32 models into .cache/bench-models (M0/M1 from the synthetic checkpoints in
 * ../shared, other variants from test/helpers/synthetic.ts): speed does not depend on the weights' values.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { isVariant } from '../../models/efficientvit.js';
import { IMAGENET_1K } from '../../models/imagenet-1k.js';
import { IMAGENET_PREPROCESSING, type Manifest, type ManifestModel } from '../../worker/core/manifest/manifest.js';
import { createImageSupport } from '../../worker/core/model-input/image-input.js';
import type { RgbImage } from '../../worker/core/image/types.js';
import { loadImageWasmModules } from '../../worker/runtimes/node/image-wasm.js';
import { syntheticStateDict as generatedStateDict } from '../../test/helpers/synthetic.js';
import { readCheckpoint, type StateDict } from '../../models/toolchain/checkpoint/index.js';
import { exportOnnx } from '../../models/toolchain/export/index.js';
import { createOrtNodeBackend } from '../../worker/runtimes/node/inference/ort-node.js';
import { resolveThreads } from '../../worker/runtimes/node/server.js';
import { exitOnHelp } from '../lib/cli.js';
import { availableParallelism } from 'node:os';
import { type CpuAccount, startCpuWindow } from './lib/proc-cpu.js';
import { boundLine, type CpuRow, type CpuSummary, cpuTables, sizingLine, summarizeCpu } from './lib/cpu-report.js';
import { median } from './lib/stats.js';
import type { Variant } from '../../worker/core/manifest/manifest.js';

exitOnHelp(import.meta.url);

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sharedRoot = path.resolve(repoRoot, '../shared');

/** Context, not a comparison: another machine, another runtime, no HTTP. See ../shared/notes/workers-onnxruntime.md. */
const REFERENCE_FIGURES = [
  'paper (EfficientViT, CVPR 2023): M0 228 img/s on one Xeon CPU thread (4.4 ms/image), PyTorch, no decoding or HTTP',
  'this machine, PyTorch 1.13, one thread, batch 16, no decoding or HTTP: M0 7.3 ms/image = 137 img/s',
];

/** The batching bar for M5 at concurrency 32: batching ≥ 1.5× the img/s of no batching, with p99 < 500 ms. */
const TARGET = { variant: 'm5', concurrency: 32, minRatio: 1.5, maxP99Ms: 500 };
/** The decode-pool bar on the 2-core machine: M0 at concurrency 16, batching on, 2 decode threads ≥ 1.4× the img/s of 1. */
const DECODE_TARGET = { variant: 'm0', concurrency: 16, from: '1', to: '2', minRatio: 1.4 };

interface Options {
  /** A --json file to print the report of again, measuring nothing. */
  report?: string;
  decoders: boolean;
  modelsDir?: string;
  variants: Variant[];
  concurrency: number[];
  durationS: number;
  rounds: number;
  device: string;
  threads: string;
  batchWindowMs: number;
  batchMax: number;
  json?: string;
  batching: boolean[];
  decodeThreads: string[];
  inferenceBatches: number[];
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      decoders: { type: 'boolean', default: false },
      models: { type: 'string' },
      variants: { type: 'string', default: 'm0,m5' },
      concurrency: { type: 'string', default: '1,8,32' },
      duration: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '1' },
      device: { type: 'string', default: 'cpu' },
      threads: { type: 'string', default: 'auto' },
      'batch-window-ms': { type: 'string', default: '2' },
      'batch-max': { type: 'string', default: '16' },
      json: { type: 'string' },
      batching: { type: 'string', default: 'off,on' },
      'decode-threads': { type: 'string', default: 'auto' },
      'inference-batches': { type: 'string', default: '1,16' },
      precision: { type: 'string', default: 'fp32' },
      report: { type: 'string' },
    },
  });
  const list = (raw: string) =>
    raw
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  const positive = (name: string, raw: string, allowZero = false) => {
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0))
      throw new Error(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number`);
    return value;
  };
  if (values.precision !== 'fp32' && values.precision !== 'fp16') throw new Error('--precision must be fp32 or fp16');
  benchPrecision = values.precision;
  if (benchPrecision === 'fp16' && !values.models)
    throw new Error('--precision fp16 needs --models DIR with fp16 builds');
  const variants = list(values.variants!);
  for (const variant of variants) if (!isVariant(variant)) throw new Error(`unknown variant ${variant}`);
  return {
    report: values.report,
    decoders: values.decoders!,
    modelsDir: values.models ? path.resolve(values.models) : undefined,
    variants: variants as Variant[],
    concurrency: list(values.concurrency!).map((c) => positive('concurrency', c)),
    durationS: positive('duration', values.duration!),
    rounds: positive('rounds', values.rounds!),
    device: values.device!,
    threads: values.threads === 'auto' ? 'auto' : String(positive('threads', values.threads!, true)),
    batchWindowMs: positive('batch-window-ms', values['batch-window-ms']!, true),
    batchMax: positive('batch-max', values['batch-max']!),
    json: values.json,
    batching: list(values.batching!).map((value) => {
      if (value !== 'on' && value !== 'off') throw new Error('--batching takes on, off or both');
      return value === 'on';
    }),
    decodeThreads: list(values['decode-threads']!).map((value) =>
      value === 'auto' ? value : String(positive('decode-threads', value, true)),
    ),
    inferenceBatches:
      values['inference-batches'] === 'none'
        ? []
        : list(values['inference-batches']!).map((value) => positive('inference-batches', value)),
  };
}

// ---- models ----

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
/** The precision benchmarked (--precision): fp16 needs --models with an fp16 build (models build --precisions fp16). */
let benchPrecision: 'fp32' | 'fp16' = 'fp32';
const modelName = (variant: Variant) => `${variant}-${benchPrecision}`;

async function syntheticStateDict(
  variant: Variant,
): Promise<{ stateDict: StateDict; source: string; sourceSha: string }> {
  const checkpoint = path.join(sharedRoot, 'fixtures', 'checkpoints', `efficientvit_${variant}.synthetic.pth`);
  if (existsSync(checkpoint)) {
    const bytes = new Uint8Array(readFileSync(checkpoint));
    return {
      stateDict: readCheckpoint(bytes, checkpoint).stateDict,
      source: `synthetic: ${path.relative(repoRoot, checkpoint)}`,
      sourceSha: sha256(bytes),
    };
  }
  // Generated weights for the variants without a checkpoint fixture (a test helper; the bench is a dev tool), with
  // BatchNorm statistics estimated on two of the golden preprocessed images.
  const images = 2;
  const golden = new Float32Array(
    readFileSync(path.join(sharedRoot, 'fixtures/golden/m0.input.f32')).buffer.slice(0, images * 3 * 224 * 224 * 4),
  );
  const stateDict = generatedStateDict(variant, { seed: 1, calibration: { data: golden, batch: images } });
  return { stateDict, source: 'synthetic: test/helpers/synthetic.ts', sourceSha: '0'.repeat(64) };
}

function hasModels(dir: string, variants: Variant[]): boolean {
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(file)) return false;
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  return variants.every((variant) => manifest.models.some((model) => model.name === modelName(variant)));
}

async function buildSyntheticModels(dir: string, variants: Variant[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const models: ManifestModel[] = [];
  for (const variant of variants) {
    const { stateDict, source, sourceSha } = await syntheticStateDict(variant);
    const onnx = exportOnnx(stateDict, variant, { graph: 'optimized' });
    const file = `efficientvit_${variant}.fp32.onnx`;
    writeFileSync(path.join(dir, file), onnx);
    models.push({
      name: modelName(variant),
      id: `efficientvit_${variant}.fp32`,
      variant,
      precision: 'fp32',
      file,
      bytes: onnx.length,
      sha256: sha256(onnx),
      source: { checkpoint: source, sha256: sourceSha, format: 'pth' },
      input: { name: 'input', shape: ['N', 3, 224, 224], dtype: 'float32' },
      output: { name: 'logits', shape: ['N', 1000], dtype: 'float32' },
      preprocessing: IMAGENET_PREPROCESSING,
      labels: 'imagenet-1k',
      opset: 17,
      graph: 'optimized',
      verified: { onnxruntime: '1.30.0', backends: [] },
    });
  }
  writeFileSync(path.join(dir, 'imagenet-1k.labels.json'), JSON.stringify(IMAGENET_1K));
  const manifest: Manifest = { version: 1, generated: new Date().toISOString(), models };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

// ---- servers ----

interface ChildServer {
  child: ChildProcess;
  url: string;
  deviceLine: string;
  stop(): Promise<void>;
}

/** One server of the run: a batching setting and a decode pool size. */
interface ServerConfig {
  batching: boolean;
  decodeThreads: string;
}
const threadsLabel = (threads: string) => `${threads} decode thread${threads === '1' ? '' : 's'}`;
const configLabel = (config: ServerConfig) =>
  `batching ${config.batching ? 'on ' : 'off'} decode ${config.decodeThreads}`;

function startServer(
  options: Options,
  modelsDir: string,
  variant: Variant,
  { batching, decodeThreads }: ServerConfig,
): Promise<ChildServer> {
  const args = [
    '--import',
    'tsx',
    'scripts/start-node.ts',
    '--port',
    '0',
    '--host',
    '127.0.0.1',
    '--models',
    modelsDir,
    '--device',
    options.device,
    '--threads',
    options.threads,
    '--decode-threads',
    decodeThreads,
    ...(batching
      ? [
          '--batch-window-ms',
          String(options.batchWindowMs),
          '--batch-max',
          String(options.batchMax),
          '--batch-queue',
          '4096',
        ]
      : ['--no-batching']),
  ];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    // The result cache would answer the cycled sample images from memory: this measures the pipeline.
    env: { ...process.env, DEFAULT_MODEL: modelName(variant), RESULT_CACHE: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const listening = /listening on (http:\/\/\S+)/.exec(output);
      if (!listening) return;
      const deviceLine = /device \S+ \(requested [^)]*\): [^\n]*/.exec(output)?.[0] ?? 'device: unknown';
      // A GPU benchmark that silently ran on the CPU would report the wrong thing: refuse it.
      if (options.device !== 'auto' && !deviceLine.startsWith(`device ${options.device} `)) {
        child.kill('SIGKILL');
        reject(new Error(`asked for --device ${options.device}, but the server chose: ${deviceLine}`));
        return;
      }
      resolve({
        child,
        url: listening[1],
        deviceLine,
        stop: () =>
          new Promise((done) => {
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${output}`)));
  });
}

interface BatchCounters {
  batches: number;
  images: number;
}

/**
 * autocannon stops at its deadline with requests still in flight, and the server finishes them: wait for that, so
 * one run's leftovers do not count against the next.
 */
async function waitIdle(server: ChildServer): Promise<void> {
  for (;;) {
    const body = (await (await fetch(`${server.url}/v1/models`)).json()) as { execution: { inFlight: number } };
    if (body.execution.inFlight <= 1) return; // this request itself
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface ServerCounters extends BatchCounters {
  /** The decode pool's images and thread time (0 without a pool). */
  decoded: number;
  decodeBusyMs: number;
}

async function serverCounters(server: ChildServer, variant: Variant): Promise<ServerCounters> {
  const body = (await (await fetch(`${server.url}/v1/models`)).json()) as {
    execution?: {
      batching?: { models?: Record<string, BatchCounters> };
      decode?: { images?: number; busyMs?: number };
    };
  };
  const batch = body.execution?.batching?.models?.[modelName(variant)] ?? { batches: 0, images: 0 };
  const decode = body.execution?.decode;
  return { ...batch, decoded: decode?.images ?? 0, decodeBusyMs: decode?.busyMs ?? 0 };
}

// ---- measurement ----

interface Measurement {
  variant: Variant;
  batching: boolean;
  decodeThreads: string;
  /** One decode thread's decode + preprocess time per image during the run (a pool only). */
  decodeMsPerImage?: number;
  concurrency: number;
  round: number;
  imagesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  failed: number;
  /** Mean images per inference call during the run (batching on only). */
  meanBatch?: number;
  /** CPU time over the run, by the server's threads, the client and the rest of the machine (Linux only). */
  cpu?: CpuAccount;
}

function loadImages(): Buffer[] {
  const dir = path.join(sharedRoot, 'images', 'imagenet-sample');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.JPEG'))
    .sort()
    .map((name) => readFileSync(path.join(dir, name)));
}

async function measure(url: string, images: Buffer[], connections: number, durationS: number) {
  // Each connection cycles through all the sample images, one per request.
  const result = await autocannon({
    url: `${url}/v1/classify`,
    connections,
    duration: durationS,
    timeout: 60,
    requests: images.map((body) => ({ method: 'POST' as const, headers: { 'content-type': 'image/jpeg' }, body })),
  });
  return {
    imagesPerSecond: result['2xx'] / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result['2xx'],
    failed: result.non2xx + result.errors,
  };
}

// ---- decoders (--decoders) ----

async function decodeWithSharp(bytes: Uint8Array): Promise<RgbImage> {
  // rotate(): EXIF orientation, as worker/core/image applies it; removeAlpha(): RGB like PIL's convert('RGB').
  const { data, info } = await sharp(bytes).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

type DecoderName = 'wasm' | 'wasm-full' | 'sharp';

async function benchDecoders(options: Options): Promise<void> {
  const modules = await loadImageWasmModules();
  // The service's path (large JPEGs decoded already reduced by libjpeg's DCT scaling), the same decoders always at
  // full size (PIL-exact for every size), and sharp at full size.
  const service = createImageSupport(modules);
  const fullSize = createImageSupport(modules, { reducedJpegDecode: false });
  const limits = { maxPixels: 100_000_000, resizeShortSide: IMAGENET_PREPROCESSING.resizeShortSide };
  const decoders: Record<DecoderName, (bytes: Uint8Array) => Promise<RgbImage>> = {
    wasm: (bytes) => service.decode(bytes, limits),
    'wasm-full': (bytes) => fullSize.decode(bytes, limits),
    sharp: decodeWithSharp,
  };
  const names = Object.keys(decoders) as DecoderName[];
  const elements = 3 * 224 * 224;
  const tensor = new Float32Array(elements);

  // The golden preprocessing bar, with each decoder feeding the same PIL-exact preprocessing.
  const meta = JSON.parse(readFileSync(path.join(sharedRoot, 'fixtures/golden/m0.json'), 'utf8')) as {
    images: string[];
  };
  const golden = new Float32Array(readFileSync(path.join(sharedRoot, 'fixtures/golden/m0.input.f32')).buffer.slice(0));
  for (const name of names) {
    let max = 0;
    let sum = 0;
    for (const [i, file] of meta.images.entries()) {
      service.preprocess(
        await decoders[name](readFileSync(path.join(sharedRoot, 'images/imagenet-sample', file))),
        IMAGENET_PREPROCESSING,
        tensor,
        0,
      );
      for (let j = 0; j < elements; j++) {
        const delta = Math.abs(tensor[j] - golden[i * elements + j]);
        max = Math.max(max, delta);
        sum += delta;
      }
    }
    console.log(
      `${name}: golden preprocessing |Δ| max ${max.toExponential(2)}, mean ${(sum / (elements * meta.images.length)).toExponential(2)}`,
    );
  }

  const sets = [
    { label: 'ImageNet sample (~500×375)', files: loadImages().slice(0, 16) },
    ...readdirSync(path.join(sharedRoot, 'images/photos'))
      .filter((name) => /\.jpe?g$/i.test(name))
      .sort()
      .map((name) => ({ label: name, files: [readFileSync(path.join(sharedRoot, 'images/photos', name))] })),
  ];
  const rows = [
    '| images | wasm (service) decode ms | wasm full-size ms | sharp full-size ms | wasm (service) ÷ sharp | preprocess ms (service) |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const set of sets) {
    const times: Record<DecoderName | 'preprocess', number[]> = {
      wasm: [],
      'wasm-full': [],
      sharp: [],
      preprocess: [],
    };
    for (let round = 0; round < options.rounds + 1; round++) {
      for (const bytes of set.files) {
        for (const name of names) {
          const started = performance.now();
          const image = await decoders[name](bytes);
          const decoded = performance.now();
          service.preprocess(image, IMAGENET_PREPROCESSING, tensor, 0);
          // Round 0 warms everything up (wasm instantiation, libvips start-up) and is not counted.
          if (round > 0) {
            times[name].push(decoded - started);
            if (name === 'wasm') times.preprocess.push(performance.now() - decoded);
          }
        }
      }
    }
    const [wasm, full, native] = names.map((name) => median(times[name]));
    rows.push(
      `| ${set.label} | ${wasm.toFixed(1)} | ${full.toFixed(1)} | ${native.toFixed(1)} | ${(wasm / native).toFixed(2)} | ${median(times.preprocess).toFixed(1)} |`,
    );
  }
  console.log(`\n${options.rounds} round(s), interleaved, medians\n${rows.join('\n')}`);

  // sharp decodes on libuv's thread pool, so concurrent requests decode in parallel; the wasm decoders run on the
  // event loop's thread. 16 decodes at once, as 16 concurrent requests would start them:
  const burst = loadImages().slice(0, 16);
  for (const name of names) {
    const runs: number[] = [];
    for (let round = 0; round < options.rounds + 1; round++) {
      const started = performance.now();
      await Promise.all(burst.map((bytes) => decoders[name](bytes)));
      if (round > 0) runs.push(performance.now() - started);
    }
    console.log(
      `16 concurrent ImageNet-sample decodes, ${name}: ${median(runs).toFixed(1)} ms (median of ${runs.length})`,
    );
  }
}

// ---- inference alone (--inference-batches) ----

const INFERENCE_RUNS = 5;

/** onnxruntime-node's own img/s per batch size, with the server's device and threads: what inference can take. */
async function measureInference(
  options: Options,
  modelsDir: string,
): Promise<{ variant: Variant; batch: number; ms: number; imagesPerSecond: number }[]> {
  if (options.inferenceBatches.length === 0) return [];
  const device = options.device === 'cuda' ? 'cuda' : 'cpu';
  const backend = createOrtNodeBackend({
    device,
    threads: options.threads === 'auto' ? resolveThreads('auto') : Number(options.threads),
  });
  const manifest = JSON.parse(readFileSync(path.join(modelsDir, 'manifest.json'), 'utf8')) as Manifest;
  const rows = [];
  for (const variant of options.variants) {
    const entry = manifest.models.find((model) => model.name === modelName(variant))!;
    const session = await backend.load(new Uint8Array(readFileSync(path.join(modelsDir, entry.file))));
    try {
      for (const batch of options.inferenceBatches) {
        const input = new Float32Array(batch * 3 * 224 * 224).map((_, i) => Math.sin(i));
        const dims = [batch, 3, 224, 224];
        await session.run(input, dims); // first run of a shape: allocation, cuDNN's algorithm search
        const times: number[] = [];
        for (let run = 0; run < INFERENCE_RUNS; run++) {
          const started = performance.now();
          await session.run(input, dims);
          times.push(performance.now() - started);
        }
        const ms = median(times);
        rows.push({ variant, batch, ms, imagesPerSecond: (1000 * batch) / ms });
      }
    } finally {
      await session.release();
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  if (options.decoders) return benchDecoders(options);
  if (options.report) {
    const saved = JSON.parse(readFileSync(options.report, 'utf8')) as Partial<SavedRun> &
      Omit<SavedRun, 'precision' | 'imageCount'>;
    benchPrecision = saved.precision ?? 'fp32';
    report({ ...saved, precision: benchPrecision, imageCount: saved.imageCount ?? loadImages().length });
    return;
  }
  let modelsDir = options.modelsDir;
  if (!modelsDir) {
    modelsDir = path.join(repoRoot, '.cache', 'bench-models');
    if (!hasModels(modelsDir, options.variants)) {
      console.log(
        `building synthetic fp32 models (${options.variants.join(', ')}) into ${path.relative(repoRoot, modelsDir)}`,
      );
      await buildSyntheticModels(modelsDir, options.variants);
    }
  } else if (!hasModels(modelsDir, options.variants)) {
    throw new Error(
      `${modelsDir} lacks ${options.variants.map(modelName).join(' or ')}: npm run models -- build --variants ${options.variants.join(',')}`,
    );
  }

  const images = loadImages();
  const measurements: Measurement[] = [];
  const devices = new Set<string>();
  const configs: ServerConfig[] = options.decodeThreads.flatMap((decodeThreads) =>
    options.batching.map((batching) => ({ batching, decodeThreads })),
  );
  for (const variant of options.variants) {
    const servers: ChildServer[] = [];
    try {
      for (const config of configs) servers.push(await startServer(options, modelsDir, variant, config));
      for (const server of servers) devices.add(server.deviceLine);
      // Warm-up: model load, V8 tier-up, onnxruntime's first runs of each batch size.
      for (const server of servers) {
        await measure(server.url, images, 8, Math.min(3, options.durationS));
        await waitIdle(server);
      }
      for (const concurrency of options.concurrency) {
        for (let round = 0; round < options.rounds; round++) {
          for (const [index, config] of configs.entries()) {
            const server = servers[index];
            const before = await serverCounters(server, variant);
            const idle = servers.filter((other) => other !== server).map((other) => other.child.pid!);
            const window = startCpuWindow(server.child.pid!, idle, availableParallelism());
            const result = await measure(server.url, images, concurrency, options.durationS);
            const cpu = window.end();
            await waitIdle(server);
            const after = await serverCounters(server, variant);
            const meanBatch =
              config.batching && after.batches > before.batches
                ? (after.images - before.images) / (after.batches - before.batches)
                : undefined;
            const decodeMsPerImage =
              after.decoded > before.decoded
                ? (after.decodeBusyMs - before.decodeBusyMs) / (after.decoded - before.decoded)
                : undefined;
            measurements.push({ variant, ...config, concurrency, round, ...result, meanBatch, decodeMsPerImage, cpu });
            console.log(
              `${variant} c=${concurrency} ${configLabel(config)} round ${round + 1}: ${result.imagesPerSecond.toFixed(1)} img/s, ` +
                `p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ${result.failed} failed` +
                `${meanBatch ? `, mean batch ${meanBatch.toFixed(1)}` : ''}` +
                `${decodeMsPerImage ? `, ${decodeMsPerImage.toFixed(1)} ms/image per decode thread` : ''}` +
                `${cpu ? `, cores busy: server ${(cpu.server.total / cpu.wallS).toFixed(2)}, client ${(cpu.client / cpu.wallS).toFixed(2)}` : ''}` +
                `${cpu?.machine !== undefined ? `, machine ${(cpu.machine / cpu.wallS).toFixed(2)} of ${cpu.cores}` : ''}`,
            );
          }
        }
      }
    } finally {
      for (const server of servers) await server.stop();
    }
  }
  const inference = await measureInference(options, modelsDir);
  const saved: SavedRun = {
    options,
    precision: benchPrecision,
    devices: [...devices],
    imageCount: images.length,
    measurements,
    inference,
  };
  const summary = report(saved);
  if (options.json) writeFileSync(options.json, JSON.stringify({ ...saved, summary }, null, 2));
}

/** What a run measured, as --json writes it and --report reads it back. */
interface SavedRun {
  options: Options;
  precision: 'fp32' | 'fp16';
  devices: string[];
  imageCount: number;
  measurements: Measurement[];
  inference: Awaited<ReturnType<typeof measureInference>>;
}

/** Prints the tables, the CPU accounting, sizing and the targets for one run; returns the summary rows. */
function report({ options, devices, imageCount, measurements, inference }: SavedRun): Record<string, unknown>[] {
  const configs: ServerConfig[] = options.decodeThreads.flatMap((decodeThreads) =>
    options.batching.map((batching) => ({ batching, decodeThreads })),
  );
  const rows: string[] = [];
  const summary: Record<string, unknown>[] = [];
  const cpuRows: CpuRow[] = [];
  rows.push(
    '| model | concurrency | batching | decode threads | img/s (median) | p50 ms | p99 ms | mean batch | img/s per decode thread | failed | vs first row |',
  );
  rows.push('|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const variant of options.variants) {
    for (const concurrency of options.concurrency) {
      let first: number | undefined;
      for (const config of configs) {
        const runs = measurements.filter(
          (m) =>
            m.variant === variant &&
            m.concurrency === concurrency &&
            m.batching === config.batching &&
            m.decodeThreads === config.decodeThreads,
        );
        const defined = (values: (number | undefined)[]) => values.filter((v): v is number => v !== undefined);
        const batches = defined(runs.map((m) => m.meanBatch));
        const decodeMs = defined(runs.map((m) => m.decodeMsPerImage));
        const stats = {
          imagesPerSecond: median(runs.map((m) => m.imagesPerSecond)),
          p50Ms: median(runs.map((m) => m.p50Ms)),
          p99Ms: median(runs.map((m) => m.p99Ms)),
          meanBatch: batches.length ? median(batches) : undefined,
          decodeImagesPerSecondPerThread: decodeMs.length ? 1000 / median(decodeMs) : undefined,
          failed: runs.reduce((total, m) => total + m.failed, 0),
          cpu: summarizeCpu(runs),
        };
        cpuRows.push({
          label: `${modelName(variant)} c=${concurrency} ${configLabel(config)}`,
          imagesPerSecond: stats.imagesPerSecond,
          cpu: stats.cpu,
          decodeWallMs: decodeMs.length ? median(decodeMs) : undefined,
        });
        first ??= stats.imagesPerSecond;
        const ratio = stats.imagesPerSecond / first;
        summary.push({ variant, concurrency, ...config, ...stats, ratio });
        rows.push(
          `| ${modelName(variant)} | ${concurrency} | ${config.batching ? 'on' : 'off'} | ${config.decodeThreads} | ` +
            `${stats.imagesPerSecond.toFixed(1)} | ${stats.p50Ms} | ${stats.p99Ms} | ${stats.meanBatch?.toFixed(1) ?? '–'} | ` +
            `${stats.decodeImagesPerSecondPerThread?.toFixed(1) ?? '–'} | ${stats.failed} | ${ratio.toFixed(2)}× |`,
        );
      }
    }
  }
  console.log(
    `\n${devices.join('\n')}; threads ${options.threads === '0' ? 'onnxruntime default' : options.threads}; batching window ${options.batchWindowMs} ms, max ${options.batchMax}`,
  );
  console.log(
    `${options.durationS} s per run, ${options.rounds} round(s), ${imageCount} ImageNet sample JPEGs (~500×375) cycled, one image per request\n`,
  );
  console.log(rows.join('\n'));
  if (inference.length) {
    console.log(
      `\nonnxruntime-node alone (${options.device}, threads ${options.threads}, this process, no HTTP or decoding; median of ${INFERENCE_RUNS} runs):\n`,
    );
    console.log('| model | batch | ms per batch | inference img/s |\n|---|---:|---:|---:|');
    for (const row of inference)
      console.log(
        `| ${modelName(row.variant)} | ${row.batch} | ${row.ms.toFixed(1)} | ${row.imagesPerSecond.toFixed(1)} |`,
      );
  }
  const cpuReport = cpuTables(cpuRows);
  if (cpuReport) console.log(`\n${cpuReport}`);
  console.log(`\ncontext:\n${REFERENCE_FIGURES.map((line) => `- ${line}`).join('\n')}`);
  console.log(
    'sizing: a host serves about min(decode threads × img/s per decode thread, inference img/s at the batch size ' +
      'reached, the HTTP thread), each measured above',
  );
  // Per model, from the runs with a decode pool (decoding on the HTTP thread would fold decode into http).
  for (const variant of options.variants) {
    const line = sizingLine(
      modelName(variant),
      (summary as { variant: string; decodeThreads: string; cpu?: CpuSummary }[])
        .filter((row) => row.variant === variant && row.decodeThreads !== '0' && row.cpu)
        .map((row) => row.cpu!),
    );
    if (line) console.log(`- ${line}`);
  }

  type Row = { variant: string; concurrency: number; batching: boolean; decodeThreads: string } & {
    imagesPerSecond: number;
    p99Ms: number;
    cpu?: CpuSummary;
  };
  const find = (variant: string, concurrency: number, batching: boolean, decodeThreads?: string) =>
    (summary as Row[]).find(
      (row) =>
        row.variant === variant &&
        row.concurrency === concurrency &&
        row.batching === batching &&
        (decodeThreads === undefined || row.decodeThreads === decodeThreads),
    );
  const off = find(TARGET.variant, TARGET.concurrency, false);
  const on = off && find(TARGET.variant, TARGET.concurrency, true, off.decodeThreads);
  if (off && on) {
    const ratio = on.imagesPerSecond / off.imagesPerSecond;
    const met = ratio >= TARGET.minRatio && on.p99Ms < TARGET.maxP99Ms;
    console.log(
      `\ntarget (${TARGET.variant}, c=${TARGET.concurrency}: batching ≥ ${TARGET.minRatio}× img/s, p99 < ${TARGET.maxP99Ms} ms): ` +
        `${ratio.toFixed(2)}×, p99 ${on.p99Ms} ms → ${met ? 'met' : 'NOT met'}`,
    );
  }
  const one = find(DECODE_TARGET.variant, DECODE_TARGET.concurrency, true, DECODE_TARGET.from);
  const two = find(DECODE_TARGET.variant, DECODE_TARGET.concurrency, true, DECODE_TARGET.to);
  if (one && two) {
    const ratio = two.imagesPerSecond / one.imagesPerSecond;
    console.log(
      `target (${DECODE_TARGET.variant}, c=${DECODE_TARGET.concurrency}, batching on: ${DECODE_TARGET.to} decode threads ≥ ` +
        `${DECODE_TARGET.minRatio}× the img/s of ${DECODE_TARGET.from}): ${ratio.toFixed(2)}× → ${ratio >= DECODE_TARGET.minRatio ? 'met' : 'NOT met'}`,
    );
    // The measurement that bounds it: what the cores allow at the CPU each image costs.
    if (one.cpu && two.cpu)
      console.log(
        boundLine(
          DECODE_TARGET.minRatio,
          { label: threadsLabel(DECODE_TARGET.from), imagesPerSecond: one.imagesPerSecond, cpu: one.cpu },
          { label: threadsLabel(DECODE_TARGET.to), imagesPerSecond: two.imagesPerSecond, cpu: two.cpu },
        ),
      );
  }
  return summary;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
