/**
 * `npm run bench:edge`: the Worker in real workerd, end to end over HTTP, next to the same pipeline in Node with
 * onnxruntime-node as the native reference, in one run.
 *
 *   npm run bench:edge -- [--models DIR] [--checkpoints DIR] [--names m0,m1,m0-fp32,m1-fp32] [--images imagenet,cups,phone]
 *                         [--warm 20] [--warmup 5] [--memory-requests 3] [--node-threads 1] [--cold 5] [--mixed 20]
 *                         [--json FILE]
 *
 * The worker is the real entry (worker/runtimes/workerd/handler.ts) as wrangler bundles it for deployment
 * (`wrangler deploy --dry-run --outdir`), run by Miniflare in workerd with wrangler.toml's bindings and vars
 * (`unstable_getMiniflareWorkerOptions`), the Static Assets binding MODELS pointing at --models. Miniflare rather than
 * `wrangler dev`: one workerd process per worker, whose memory can be read, and no dev proxy between the client and
 * the worker (it adds 0.3–0.7 s to a 3 MB upload here).
 *
 * Per image × model, a cell:
 * - a fresh workerd process (start-up time until Miniflare is ready), then the cold first request, end to end;
 * - `warmup` untimed requests (V8 tiers up over the first few), then `warm` timed ones: end-to-end wall time seen by
 *   the client (loopback HTTP, body upload included) and the worker's own stages from the response's `timing`;
 * - the workerd process's RSS when ready (idle) and its peak (VmHWM) over the cell, from /proc (Linux);
 * - alternating request by request with the warm workerd requests (so load drift hits both alike), the Node
 *   reference: the service's decode (worker/core/image, the same WebAssembly decoders) + preprocess + an
 *   onnxruntime-node session (--node-threads, default 1: workerd runs one thread), in this process, no HTTP;
 * - alternating too, the same onnxruntime-web wasm in Node on the same tensor: workerd's own cost, as a ratio;
 * - whether both give the same top-1 class;
 * - then `memory-requests` untimed requests, each followed by an isolate memory sample through workerd's inspector
 *   (scripts/bench/lib/isolate-memory.ts: JS heap + ArrayBuffers + wasm memories, what the 128 MB limit is about).
 * Reports medians and p90 (nearest rank), ratios to the Node reference, and the targets: M0 int8 warm end to end for
 * the ImageNet-size JPEG ≤ 40 ms; for the 12 MP photo ≤ 600 ms and an isolate memory peak < 128 MB.
 *
 * Cold starts (--cold N, first image only, per model): N more fresh workerd processes, each answering one cold request
 * and then requests 2–5; reported as medians/p90 over the N of end to end and of the cold request's stages
 * (model_wait, session, first run = its inference), and requests 2–5 against the cell's warm p50 (target 2: ≤ 1.5×).
 * Mixed traffic (--mixed K, when m0 and m1 are both named): one fresh workerd, K requests of m0 alone, K alternating
 * m0/m1, then 2K of m0 alone and 2K picked at random 50/50, each sent 4 at a time; p50/p90 and the ratio to m0 alone at
 * the same concurrency (target 3: ≤ 2×), every answer's
 * top-1 checked against its model's, and an isolate memory sample after each phase (target 3: < 128 MB).
 *
 * Missing models are built first into --models (M0/M1, fp32 + int8) from --checkpoints, $EFFICIENTVIT_CHECKPOINTS or
 * the official release, as `npm start` does. Process RSS is reported too, but it includes the runtime and V8's machine
 * code for the onnxruntime wasm (~200 MiB), which are not the isolate's allocations.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Miniflare, type MiniflareOptions } from 'miniflare';
import { createClient } from '../../worker/client/index.js';
import type { Manifest, ManifestModel, Precision, Variant } from '../../worker/core/manifest/manifest.js';
import { createImageSupport, type ImageCodec } from '../../worker/core/model-input/image-input.js';
import type { ModelSession } from '../../worker/core/inference/backend.js';
import { createOrtNodeBackend } from '../../worker/runtimes/node/inference/ort-node.js';
import { createOrtWebBackendForNode } from '../../worker/runtimes/node/inference/ort-web-node.js';
import { loadImageWasmModules } from '../../worker/runtimes/node/image-wasm.js';
import { buildModels, modelName } from '../../models/toolchain/build.js';
import { CHECKPOINTS_ENV } from '../../models/toolchain/checkpoint/sources.js';
import { readManifest } from '../../models/toolchain/manifest-file.js';
import { IsolateMemoryProbe, type IsolateMemorySample } from './lib/isolate-memory.js';
import { bundleWorker, cpuMs, freePort, statusMiB, workerdDescendants } from './lib/workerd.js';
import { formatTable } from '../../models/toolchain/table.js';
import { UsageError } from '../lib/build-cli.js';
import { exitOnHelp } from '../lib/cli.js';
import { median, percentile } from './lib/stats.js';
import { nodeToolchainHost } from '../lib/node-host.js';

exitOnHelp(import.meta.url);

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sharedRoot = path.resolve(repoRoot, '../shared');
const WORK_DIR = path.join(repoRoot, '.cache/bench-edge');
const WORKER_NAME = 'bench-edge';

const IMAGES = {
  imagenet: { file: 'images/imagenet-val/ILSVRC2012_val_00000010.jpeg', label: 'ImageNet 500×375' },
  cups: { file: 'images/photos/colorful-cups-2560x1600.jpg', label: 'photo 2560×1600' },
  phone: { file: 'images/photos/phone-4032x3024-exif6.jpg', label: 'phone 12 MP' },
} as const;
type ImageKey = keyof typeof IMAGES;

const EDGE_MODELS: readonly { variant: Variant; precision: Precision }[] = [
  { variant: 'm0', precision: 'int8' },
  { variant: 'm1', precision: 'int8' },
  { variant: 'm0', precision: 'fp32' },
  { variant: 'm1', precision: 'fp32' },
];

const TARGETS = [
  { model: 'm0', image: 'imagenet' as ImageKey, maxWarmMs: 40 },
  { model: 'm0', image: 'phone' as ImageKey, maxWarmMs: 600, maxIsolateMB: 128 },
];

/** Node's limit for the reference decode: the Worker's default MAX_MEGAPIXELS (wrangler.toml). */
const NODE_MAX_PIXELS = 16_000_000;
const REQUEST_TIMEOUT_MS = 120_000;
const MiB = 2 ** 20;

interface Options {
  modelsDir: string;
  checkpointsDir?: string;
  names: string[];
  images: ImageKey[];
  warm: number;
  warmup: number;
  /** Untimed requests after the timed ones, each followed by an isolate memory sample. */
  memoryRequests: number;
  nodeThreads: number;
  /** Fresh workerd processes for the cold-start distribution (0: none). */
  cold: number;
  /** Requests per mixed-traffic phase (0: none). */
  mixed: number;
  /** Also write the results as JSON to this file. */
  json?: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      models: { type: 'string', default: path.join(repoRoot, 'models/build/edge') },
      checkpoints: { type: 'string' },
      names: { type: 'string', default: EDGE_MODELS.map((m) => modelName(m.variant, m.precision)).join(',') },
      images: { type: 'string', default: Object.keys(IMAGES).join(',') },
      warm: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '5' },
      'memory-requests': { type: 'string', default: '3' },
      'node-threads': { type: 'string', default: '1' },
      cold: { type: 'string', default: '5' },
      mixed: { type: 'string', default: '20' },
      json: { type: 'string' },
    },
  });
  const list = (raw: string) =>
    raw
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  const count = (raw: string, name: string, min: number) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name} must be an integer ≥ ${min}`);
    return value;
  };
  const known = new Set(EDGE_MODELS.map((m) => modelName(m.variant, m.precision)));
  const names = list(values.names);
  for (const name of names)
    if (!known.has(name)) throw new UsageError(`unknown model ${name} (edge models: ${[...known].join(', ')})`);
  const images = list(values.images);
  for (const image of images)
    if (!(image in IMAGES)) throw new UsageError(`unknown image ${image} (${Object.keys(IMAGES).join(', ')})`);
  return {
    modelsDir: path.resolve(values.models),
    checkpointsDir: values.checkpoints ?? process.env[CHECKPOINTS_ENV] ?? undefined,
    names,
    images: images as ImageKey[],
    warm: count(values.warm, 'warm', 1),
    warmup: count(values.warmup, 'warmup', 0),
    memoryRequests: count(values['memory-requests'], 'memory-requests', 0),
    nodeThreads: count(values['node-threads'], 'node-threads', 0),
    cold: count(values.cold, 'cold', 0),
    mixed: count(values.mixed, 'mixed', 0),
    json: values.json,
  };
}

const log = (message: string) => process.stderr.write(`${message}\n`);

// ---- statistics ----

// ---- models ----

/** The manifest entries for `names`, building whichever edge models the manifest lacks (both precisions). */
async function ensureModels(options: Options): Promise<ManifestModel[]> {
  const builtNames = () =>
    readManifest(options.modelsDir).then((m: Manifest | undefined) => new Set(m?.models.map((e) => e.name)));
  const have = await builtNames();
  const missing = [
    ...new Set(
      EDGE_MODELS.filter(
        (m) =>
          options.names.includes(modelName(m.variant, m.precision)) && !have.has(modelName(m.variant, m.precision)),
      ).map((m) => m.variant),
    ),
  ];
  if (missing.length > 0) {
    log(`building ${missing.join(', ')} (fp32 + int8) into ${path.relative(process.cwd(), options.modelsDir) || '.'}/`);
    await buildModels({
      host: nodeToolchainHost,
      variants: missing,
      precisions: ['fp32', 'int8'],
      outDir: options.modelsDir,
      checkpointsDir: options.checkpointsDir,
      onEvent: (event) => {
        if (event.kind === 'stage') log(`[${event.variant}] ${event.stage}`);
      },
    });
  }
  const manifest = await readManifest(options.modelsDir);
  return options.names.map((name) => {
    const entry = manifest?.models.find((m) => m.name === name);
    if (!entry) throw new Error(`${name} is not in ${options.modelsDir}/manifest.json after the build`);
    return entry;
  });
}

// ---- workerd ----

interface WorkerTiming {
  decode_ms: number;
  preprocess_ms: number;
  inference_ms: number;
  total_ms: number;
  model_wait_ms?: number;
  session_ms?: number;
}

interface WorkerResult {
  e2eMs: number;
  timing: WorkerTiming;
  top1: number;
}

async function classifyOverHttp(url: URL, model: string, body: Uint8Array): Promise<WorkerResult> {
  const started = performance.now();
  // Through the typed client, as an API user would; a problem answer throws ApiProblemError (status, code, detail).
  const result = await createClient({ baseUrl: url.origin }).classify(new Blob([body], { type: 'image/jpeg' }), {
    model,
    topK: 1,
    // The same image is sent again and again: without this the result cache answers and nothing is measured.
    headers: { 'cache-control': 'no-store' },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const e2eMs = performance.now() - started;
  return { e2eMs, timing: result.timing as unknown as WorkerTiming, top1: result.predictions[0].index };
}

// ---- Node reference ----

interface NodeResult {
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
  totalMs: number;
  top1: number;
  /** The model input, for the onnxruntime-web timing on the same tensor. */
  tensor: Float32Array;
}

async function classifyInNode(
  support: ImageCodec,
  session: ModelSession,
  entry: ManifestModel,
  bytes: Uint8Array,
): Promise<NodeResult> {
  const { preprocessing } = entry;
  const crop = preprocessing.centerCrop;
  const started = performance.now();
  const image = await support.decode(bytes, {
    maxPixels: NODE_MAX_PIXELS,
    resizeShortSide: preprocessing.resizeShortSide,
  });
  const decoded = performance.now();
  const tensor = new Float32Array(3 * crop * crop);
  support.preprocess(image, preprocessing, tensor, 0);
  const preprocessed = performance.now();
  const output = await session.run(tensor, [1, 3, crop, crop]);
  const finished = performance.now();
  let top1 = 0;
  for (let i = 1; i < output.data.length; i++) if (output.data[i] > output.data[top1]) top1 = i;
  return {
    decodeMs: decoded - started,
    preprocessMs: preprocessed - decoded,
    inferenceMs: finished - preprocessed,
    totalMs: finished - started,
    top1,
    tensor,
  };
}

/** One onnxruntime-web session run in Node: the same wasm runtime workerd runs, timed by a clock that is not coarsened. */
async function inferWithWasmInNode(session: ModelSession, entry: ManifestModel, tensor: Float32Array): Promise<number> {
  const crop = entry.preprocessing.centerCrop;
  const started = performance.now();
  await session.run(tensor, [1, 3, crop, crop]);
  return performance.now() - started;
}

// ---- one cell ----

interface IsolateMemory {
  /** Largest sample (JS heap + ArrayBuffers before collection + wasm memories) after the cold and the memory-pass requests. */
  peakMiB: number;
  /** onnxruntime's wasm memory and the other wasm memories (decoders) in that sample. */
  onnxruntimeWasmMiB: number;
  otherWasmMiB: number;
  /** After a full collection at the end of the cell. */
  retainedMiB: number;
  samples: IsolateMemorySample[];
}

interface Cell {
  image: ImageKey;
  imageLabel: string;
  model: string;
  modelId: string;
  startupMs: number;
  cold: { e2eMs: number; timing: WorkerTiming };
  warm: {
    e2eP50Ms: number;
    e2eP90Ms: number;
    decodeP50Ms: number;
    preprocessP50Ms: number;
    inferenceP50Ms: number;
    serverTotalP50Ms: number;
    samples: number[];
  };
  node: {
    totalP50Ms: number;
    totalP90Ms: number;
    decodeP50Ms: number;
    preprocessP50Ms: number;
    inferenceP50Ms: number;
  };
  /** The same onnxruntime-web wasm in Node, on the same tensor, alternating with the workerd requests. */
  nodeWasm: { inferenceP50Ms: number };
  isolate: IsolateMemory;
  /** workerd's process RSS when ready, after the cold request, peak over the cell; and after each warm request (diagnosis). */
  memory: { idleRssMiB: number; afterColdRssMiB: number; peakRssMiB: number; afterEachMiB: number[] };
  top1Agrees: boolean;
}

interface References {
  support: ImageCodec;
  /** onnxruntime-node, the native reference. */
  nativeSession: ModelSession;
  /** onnxruntime-web in Node, the same wasm runtime as the Worker's. */
  wasmSession: ModelSession;
}

function isolateMemory(samples: IsolateMemorySample[]): IsolateMemory {
  const peak = samples.reduce((a, b) => (b.totalBytes > a.totalBytes ? b : a));
  // onnxruntime's memory is by far the largest; the decoders' are a few MiB.
  const [onnxruntime = 0, ...others] = peak.wasmMemoryBytes;
  return {
    peakMiB: peak.totalBytes / MiB,
    onnxruntimeWasmMiB: onnxruntime / MiB,
    otherWasmMiB: others.reduce((a, b) => a + b, 0) / MiB,
    retainedMiB: samples[samples.length - 1].retainedBytes / MiB,
    samples,
  };
}

async function runCell(
  options: Options,
  miniflareOptions: MiniflareOptions,
  image: ImageKey,
  entry: ManifestModel,
  bytes: Uint8Array,
  references: References,
): Promise<Cell> {
  const before = new Set(workerdDescendants(process.pid));
  const inspectorPort = await freePort();
  const startedAt = performance.now();
  const miniflare = new Miniflare({ ...miniflareOptions, inspectorPort } as MiniflareOptions);
  let probe: IsolateMemoryProbe | undefined;
  try {
    const url = await miniflare.ready;
    const startupMs = performance.now() - startedAt;
    const pids = workerdDescendants(process.pid).filter((pid) => !before.has(pid));
    if (pids.length !== 1) throw new Error(`expected one new workerd process, found ${pids.length}`);
    const pid = pids[0];
    const idleRssMiB = statusMiB(pid, 'VmRSS');
    probe = await IsolateMemoryProbe.connect(inspectorPort, WORKER_NAME);
    const memorySamples: IsolateMemorySample[] = [];

    const cold = await classifyOverHttp(url, entry.name, bytes);
    const afterColdRssMiB = statusMiB(pid, 'VmRSS');
    memorySamples.push(await probe.sample()); // the first request also created the session

    const workerRuns: WorkerResult[] = [];
    const nodeRuns: NodeResult[] = [];
    const nodeWasmMs: number[] = [];
    const afterEachMiB: number[] = [];
    for (let i = 0; i < options.warmup + options.warm; i++) {
      const workerRun = await classifyOverHttp(url, entry.name, bytes);
      afterEachMiB.push(Math.round(statusMiB(pid, 'VmRSS')));
      const nodeRun = await classifyInNode(references.support, references.nativeSession, entry, bytes);
      const wasmMs = await inferWithWasmInNode(references.wasmSession, entry, nodeRun.tensor);
      if (i >= options.warmup) {
        workerRuns.push(workerRun);
        nodeRuns.push(nodeRun);
        nodeWasmMs.push(wasmMs);
      }
    }
    // Untimed: each sample runs a full collection.
    for (let i = 0; i < options.memoryRequests; i++) {
      await classifyOverHttp(url, entry.name, bytes);
      memorySamples.push(await probe.sample());
    }
    const peakRssMiB = statusMiB(pid, 'VmHWM');
    const stage = (pick: (run: WorkerResult) => number) => median(workerRuns.map(pick));
    const nodeStage = (pick: (run: NodeResult) => number) => median(nodeRuns.map(pick));
    const e2e = workerRuns.map((run) => run.e2eMs);
    return {
      image,
      imageLabel: IMAGES[image].label,
      model: entry.name,
      modelId: entry.id,
      startupMs,
      cold: { e2eMs: cold.e2eMs, timing: cold.timing },
      warm: {
        e2eP50Ms: median(e2e),
        e2eP90Ms: percentile(e2e, 0.9),
        decodeP50Ms: stage((run) => run.timing.decode_ms),
        preprocessP50Ms: stage((run) => run.timing.preprocess_ms),
        inferenceP50Ms: stage((run) => run.timing.inference_ms),
        serverTotalP50Ms: stage((run) => run.timing.total_ms),
        samples: e2e,
      },
      node: {
        totalP50Ms: nodeStage((run) => run.totalMs),
        totalP90Ms: percentile(
          nodeRuns.map((run) => run.totalMs),
          0.9,
        ),
        decodeP50Ms: nodeStage((run) => run.decodeMs),
        preprocessP50Ms: nodeStage((run) => run.preprocessMs),
        inferenceP50Ms: nodeStage((run) => run.inferenceMs),
      },
      nodeWasm: { inferenceP50Ms: median(nodeWasmMs) },
      isolate: isolateMemory(memorySamples),
      memory: { idleRssMiB, afterColdRssMiB, peakRssMiB, afterEachMiB },
      top1Agrees:
        workerRuns.every((run) => run.top1 === nodeRuns[0].top1) &&
        nodeRuns.every((run) => run.top1 === nodeRuns[0].top1),
    };
  } finally {
    probe?.close();
    await miniflare.dispose();
  }
}

// ---- cold starts and mixed traffic ----

/**
 * The two entries whose cold starts are compared: the deployed one (wrangler.toml `main`, the default model's
 * session created at isolate start-up) and its baseline, the same handler creating it on the first request.
 */
const COLD_ENTRIES = [
  { name: 'start-up session', entry: undefined },
  { name: 'on first request', entry: 'worker/runtimes/workerd/handler.ts' },
] as const;

interface ColdStarts {
  image: ImageKey;
  model: string;
  entry: string;
  /**
   * Spawn → ready, and the workerd process's CPU time when ready: its own threads (where the global scope runs,
   * against Cloudflare's 1 s start-up limit) and V8's background threads (compiling the wasm).
   */
  startupMs: number[];
  startupCpuMs: number[];
  startupV8BackgroundMs: number[];
  /** Per fresh process: the cold request (end to end, and its stages), then requests 2–5 end to end. */
  runs: {
    e2eMs: number;
    modelWaitMs: number;
    sessionMs: number;
    firstRunMs: number;
    nextMs: number[];
    /** Requests 2–5's inference and decode + preprocess, from their `timing`: where their excess over warm goes. */
    nextInferenceMs: number[];
    nextDecodePrepMs: number[];
    /** The same process once warm (requests 11–20, end to end): both entries' warm speed, side by side. */
    laterMs: number[];
  }[];
}

const FOLLOWING_REQUESTS = 4;
/** After requests 2–5: 5 untimed, then 10 timed (requests 11–20). */
const LATER_UNTIMED = 5;
const LATER_TIMED = 10;

/**
 * `count` fresh workerd processes per entry, the entries alternating process by process so that load drift hits both
 * alike: each answers one cold request and then requests 2–5.
 */
async function runColdStarts(
  count: number,
  variants: readonly { name: string; options: MiniflareOptions }[],
  image: ImageKey,
  entry: ManifestModel,
  bytes: Uint8Array,
): Promise<ColdStarts[]> {
  const results = variants.map(
    (variant): ColdStarts => ({
      image,
      model: entry.name,
      entry: variant.name,
      startupMs: [],
      startupCpuMs: [],
      startupV8BackgroundMs: [],
      runs: [],
    }),
  );
  for (let i = 0; i < count; i++) {
    for (const [v, variant] of variants.entries()) {
      const result = results[v];
      const startedAt = performance.now();
      const miniflare = new Miniflare(variant.options);
      try {
        const url = await miniflare.ready;
        result.startupMs.push(performance.now() - startedAt);
        const [pid] = workerdDescendants(process.pid);
        const cpu = pid === undefined ? { isolate: NaN, v8Background: NaN } : cpuMs(pid);
        result.startupCpuMs.push(cpu.isolate);
        result.startupV8BackgroundMs.push(cpu.v8Background);
        const cold = await classifyOverHttp(url, entry.name, bytes);
        const nextMs: number[] = [];
        const nextInferenceMs: number[] = [];
        const nextDecodePrepMs: number[] = [];
        for (let j = 0; j < FOLLOWING_REQUESTS; j++) {
          const next = await classifyOverHttp(url, entry.name, bytes);
          nextMs.push(next.e2eMs);
          nextInferenceMs.push(next.timing.inference_ms);
          nextDecodePrepMs.push(next.timing.decode_ms + next.timing.preprocess_ms);
        }
        for (let j = 0; j < LATER_UNTIMED; j++) await classifyOverHttp(url, entry.name, bytes);
        const laterMs: number[] = [];
        for (let j = 0; j < LATER_TIMED; j++) laterMs.push((await classifyOverHttp(url, entry.name, bytes)).e2eMs);
        result.runs.push({
          e2eMs: cold.e2eMs,
          modelWaitMs: cold.timing.model_wait_ms ?? 0,
          sessionMs: cold.timing.session_ms ?? 0,
          firstRunMs: cold.timing.inference_ms,
          nextMs,
          nextInferenceMs,
          nextDecodePrepMs,
          laterMs,
        });
      } finally {
        await miniflare.dispose();
      }
    }
  }
  return results;
}

interface MixedPhase {
  name: string;
  concurrency: number;
  e2eMs: number[];
  p50Ms: number;
  p90Ms: number;
  /** Isolate memory (MiB) sampled right after the phase. */
  isolateMiB: number;
  /** Every answer's top-1 equal to the one its model gave first. */
  correct: boolean;
}

interface Mixed {
  image: ImageKey;
  phases: MixedPhase[];
}

async function runMixed(
  requests: number,
  miniflareOptions: MiniflareOptions,
  image: ImageKey,
  bytes: Uint8Array,
): Promise<Mixed> {
  const inspectorPort = await freePort();
  const miniflare = new Miniflare({ ...miniflareOptions, inspectorPort } as MiniflareOptions);
  let probe: IsolateMemoryProbe | undefined;
  try {
    const url = await miniflare.ready;
    probe = await IsolateMemoryProbe.connect(inspectorPort, WORKER_NAME);
    const expected = new Map<string, number>();
    let correct = true;
    const one = async (model: string) => {
      const run = await classifyOverHttp(url, model, bytes);
      if (!expected.has(model)) expected.set(model, run.top1);
      if (expected.get(model) !== run.top1) correct = false;
      return run.e2eMs;
    };
    // Warm both models' code paths (and the runtime) before timing.
    for (let i = 0; i < 3; i++) for (const model of ['m1', 'm0']) await one(model);
    let seed = 14;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const plans: { name: string; concurrency: number; models: string[] }[] = [
      { name: 'm0 alone', concurrency: 1, models: Array.from({ length: requests }, () => 'm0') },
      {
        name: 'alternating m0/m1',
        concurrency: 1,
        models: Array.from({ length: requests }, (_, i) => (i % 2 ? 'm1' : 'm0')),
      },
      { name: 'm0 alone', concurrency: 4, models: Array.from({ length: 2 * requests }, () => 'm0') },
      {
        name: 'random 50/50',
        concurrency: 4,
        models: Array.from({ length: 2 * requests }, () => (random() < 0.5 ? 'm0' : 'm1')),
      },
    ];
    const phases: MixedPhase[] = [];
    for (const plan of plans) {
      correct = true;
      const e2eMs: number[] = [];
      let next = 0;
      const lane = async () => {
        while (next < plan.models.length) e2eMs.push(await one(plan.models[next++]));
      };
      await Promise.all(Array.from({ length: plan.concurrency }, lane));
      const sample = await probe.sample();
      phases.push({
        name: plan.name,
        concurrency: plan.concurrency,
        e2eMs,
        p50Ms: median(e2eMs),
        p90Ms: percentile(e2eMs, 0.9),
        isolateMiB: sample.totalBytes / MiB,
        correct,
      });
    }
    return { image, phases };
  } finally {
    probe?.close();
    await miniflare.dispose();
  }
}

// ---- report ----

const MB = 1e6;

function targetResults(cells: readonly Cell[]) {
  return TARGETS.flatMap((target) => {
    const cell = cells.find((c) => c.model === target.model && c.image === target.image);
    if (!cell) return [];
    const checks = [
      {
        what: `${target.model} ${IMAGES[target.image].label}: warm end-to-end p50 ≤ ${target.maxWarmMs} ms`,
        value: cell.warm.e2eP50Ms,
        pass: cell.warm.e2eP50Ms <= target.maxWarmMs,
      },
    ];
    if (target.maxIsolateMB !== undefined) {
      const peakMB = (cell.isolate.peakMiB * MiB) / MB;
      checks.push({
        what: `${target.model} ${IMAGES[target.image].label}: isolate memory peak < ${target.maxIsolateMB} MB`,
        value: peakMB,
        pass: peakMB < target.maxIsolateMB,
      });
    }
    return checks;
  });
}

function printColdAndMixed(colds: readonly ColdStarts[], mixed: Mixed | undefined, cells: readonly Cell[]): void {
  const round = (value: number, digits = 1) => Number(value.toFixed(digits));
  const mp = (values: number[]) => `${round(median(values), 0)} / ${round(percentile(values, 0.9), 0)}`;
  if (colds.length > 0) {
    console.log(
      `\ncold starts: fresh workerd processes, first request then requests 2–5 (median / p90 over processes, ms)`,
    );
    console.log(
      formatTable(
        colds.map((c) => {
          const cell = cells.find((cell) => cell.model === c.model && cell.image === c.image);
          const warm = cell?.warm.e2eP50Ms ?? NaN;
          const warmInference = cell?.warm.inferenceP50Ms ?? NaN;
          const warmDecodePrep = (cell?.warm.decodeP50Ms ?? NaN) + (cell?.warm.preprocessP50Ms ?? NaN);
          const ratios = c.runs.map((run) => Math.max(...run.nextMs) / warm);
          return {
            image: IMAGES[c.image].label,
            model: c.model,
            entry: c.entry,
            n: c.runs.length,
            'start ms': round(median(c.startupMs), 0),
            'start CPU ms': mp(c.startupCpuMs),
            'V8 bg CPU': mp(c.startupV8BackgroundMs),
            'cold e2e': mp(c.runs.map((r) => r.e2eMs)),
            model_wait: mp(c.runs.map((r) => r.modelWaitMs)),
            session: mp(c.runs.map((r) => r.sessionMs)),
            'first run': mp(c.runs.map((r) => r.firstRunMs)),
            ...Object.fromEntries(
              Array.from({ length: FOLLOWING_REQUESTS }, (_, i) => [
                `req ${i + 2}`,
                round(median(c.runs.map((r) => r.nextMs[i]))),
              ]),
            ),
            'warm p50': round(warm),
            'req 11–20 p50': round(median(c.runs.flatMap((r) => r.laterMs))),
            '2–5 infer / warm': `${round(median(c.runs.flatMap((r) => r.nextInferenceMs)))} / ${round(warmInference)}`,
            '2–5 dec+prep / warm': `${round(median(c.runs.flatMap((r) => r.nextDecodePrepMs)))} / ${round(warmDecodePrep)}`,
            'worst of 2–5 ×warm': `${round(median(ratios), 2)} / ${round(Math.max(...ratios), 2)}`,
          };
        }),
      ),
    );
    console.log(
      'req N: median over processes, end to end; req 11–20 p50: the same processes warm; worst of 2–5 ×warm: per process the slowest of requests 2–5 over the warm p50, median / max.',
    );
    console.log(
      'entry: start-up session = the deployed entry (default model created at isolate start-up); on first request = its baseline.\n' +
        "start CPU ms: workerd's own threads when ready (runtime, Miniflare's workers, this worker's global scope); the\n" +
        "difference between the entries is the start-up session, against Cloudflare's 1 s start-up limit. V8 bg CPU: V8's\n" +
        'background threads (wasm compilation), not the global scope.',
    );
  }
  if (mixed) {
    // Against m0 alone at the same concurrency: one isolate runs one inference at a time, so 4 in flight queue anyway.
    const alone = (concurrency: number) =>
      mixed.phases.find((p) => p.name === 'm0 alone' && p.concurrency === concurrency)?.p50Ms ?? NaN;
    console.log(
      `\nmixed traffic (${IMAGES[mixed.image].label}, one fresh workerd, after 3 untimed requests per model)`,
    );
    console.log(
      formatTable(
        mixed.phases.map((p) => ({
          traffic: p.name,
          concurrency: p.concurrency,
          requests: p.e2eMs.length,
          p50: round(p.p50Ms),
          p90: round(p.p90Ms),
          '×m0 alone p50': round(p.p50Ms / alone(p.concurrency), 2),
          'isolate MiB': round(p.isolateMiB),
          'top-1 consistent': p.correct ? 'yes' : 'NO',
        })),
      ),
    );
  }
}

function printReport(options: Options, cells: readonly Cell[], load: { start: number[]; end: number[] }): void {
  const round = (value: number, digits = 1) => Number(value.toFixed(digits));
  console.log(
    `workerd (Miniflare ${MINIFLARE_VERSION}) vs Node ${process.version} + onnxruntime-node (${options.nodeThreads || 'auto'} thread(s)) and onnxruntime-web; ` +
      `${os.cpus().length} CPUs; load average ${load.start.map((l) => l.toFixed(1)).join('/')} at start, ${load.end.map((l) => l.toFixed(1)).join('/')} at end\n` +
      `each cell: fresh workerd process, cold request, ${options.warmup} untimed + ${options.warm} timed warm requests alternating with the Node references ` +
      `(medians), then ${options.memoryRequests} untimed requests each followed by an isolate memory sample\n`,
  );
  console.log(
    formatTable(
      cells.map((c) => ({
        image: c.imageLabel,
        model: c.model,
        'start ms': round(c.startupMs, 0),
        'cold ms': round(c.cold.e2eMs, 0),
        'warm p50': round(c.warm.e2eP50Ms),
        'warm p90': round(c.warm.e2eP90Ms),
        decode: round(c.warm.decodeP50Ms),
        prep: round(c.warm.preprocessP50Ms),
        infer: round(c.warm.inferenceP50Ms),
        'node p50': round(c.node.totalP50Ms),
        'node dec/prep/inf': `${round(c.node.decodeP50Ms)}/${round(c.node.preprocessP50Ms)}/${round(c.node.inferenceP50Ms)}`,
        'wasm-in-node inf': round(c.nodeWasm.inferenceP50Ms),
        'infer ×wasm-in-node': round(c.warm.inferenceP50Ms / c.nodeWasm.inferenceP50Ms, 2),
        'top-1 =': c.top1Agrees ? 'yes' : 'NO',
      })),
    ),
  );
  console.log(
    '\nworker stages (decode, prep, infer) are the response `timing` (workerd advances its clock in whole ms);',
  );
  console.log('warm p50/p90 are end to end at the client, loopback HTTP and upload included. Node: no HTTP.\n');
  console.log(
    formatTable(
      cells.map((c) => ({
        image: c.imageLabel,
        model: c.model,
        'isolate peak MiB': round(c.isolate.peakMiB),
        'ORT wasm MiB': round(c.isolate.onnxruntimeWasmMiB),
        'decoder wasm MiB': round(c.isolate.otherWasmMiB),
        'retained MiB': round(c.isolate.retainedMiB),
        'RSS idle MiB': round(c.memory.idleRssMiB, 0),
        'RSS after cold': round(c.memory.afterColdRssMiB, 0),
        'RSS peak MiB': round(c.memory.peakRssMiB, 0),
      })),
    ),
  );
  console.log(
    "\nisolate: JS heap + ArrayBuffers (before collection, so the requests' garbage counts) + every wasm memory, the largest",
  );
  console.log(
    'sample after the cold request and each memory-pass request; retained: the same after a full collection.',
  );
  console.log(
    "RSS: the whole workerd process (runtime, Miniflare's own workers, V8's machine code for the wasm modules).\n",
  );
  for (const target of targetResults(cells))
    console.log(`${target.pass ? 'PASS' : 'FAIL'}  ${target.what} (measured ${target.value.toFixed(1)})`);
}

const MINIFLARE_VERSION = (
  JSON.parse(readFileSync(path.join(repoRoot, 'node_modules/miniflare/package.json'), 'utf8')) as { version: string }
).version;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const entries = await ensureModels(options);
  const bundled = await bundleWorker({
    modelsDir: options.modelsDir,
    outDir: path.join(WORK_DIR, 'dist'),
    name: WORKER_NAME,
    log,
  });
  // bundleWorker turns the result cache off: the bench sends the same image again and again.
  const miniflareOptions = bundled;
  const support = createImageSupport(await loadImageWasmModules());
  const nativeBackend = createOrtNodeBackend({ device: 'cpu', threads: options.nodeThreads });
  const wasmBackend = await createOrtWebBackendForNode();
  const sessions = new Map<string, { nativeSession: ModelSession; wasmSession: ModelSession }>();
  const load = { start: os.loadavg(), end: [] as number[] };
  const cells: Cell[] = [];
  try {
    for (const image of options.images) {
      const bytes = new Uint8Array(readFileSync(path.join(sharedRoot, IMAGES[image].file)));
      for (const entry of entries) {
        let pair = sessions.get(entry.name);
        if (!pair) {
          const model = new Uint8Array(readFileSync(path.join(options.modelsDir, entry.file)));
          pair = { nativeSession: await nativeBackend.load(model), wasmSession: await wasmBackend.load(model) };
          sessions.set(entry.name, pair);
        }
        log(`${IMAGES[image].label} × ${entry.name}`);
        cells.push(await runCell(options, miniflareOptions, image, entry, bytes, { support, ...pair }));
      }
    }
  } finally {
    for (const pair of sessions.values()) {
      await pair.nativeSession.release();
      await pair.wasmSession.release();
    }
  }
  const colds: ColdStarts[] = [];
  const coldImage = options.images[0];
  const coldBytes = new Uint8Array(readFileSync(path.join(sharedRoot, IMAGES[coldImage].file)));
  if (options.cold > 0) {
    const variants = [];
    for (const cold of COLD_ENTRIES) {
      const bundle = cold.entry
        ? await bundleWorker({
            modelsDir: options.modelsDir,
            outDir: path.join(WORK_DIR, `dist-${path.basename(cold.entry, '.ts')}`),
            name: WORKER_NAME,
            entry: cold.entry,
            log,
          })
        : miniflareOptions;
      variants.push({ name: cold.name, options: bundle });
    }
    for (const entry of entries) {
      log(`cold starts: ${options.cold} × ${entry.name} × ${variants.length} entries, alternating`);
      colds.push(...(await runColdStarts(options.cold, variants, coldImage, entry, coldBytes)));
    }
  }
  let mixed: Mixed | undefined;
  if (options.mixed > 0 && options.names.includes('m0') && options.names.includes('m1')) {
    log('mixed traffic');
    mixed = await runMixed(options.mixed, miniflareOptions, coldImage, coldBytes);
  }
  load.end = os.loadavg();
  printReport(options, cells, load);
  printColdAndMixed(colds, mixed, cells);
  if (options.json) {
    const json = {
      machine: { cpus: os.cpus().length, node: process.version, miniflare: MINIFLARE_VERSION, loadAverage: load },
      settings: {
        warm: options.warm,
        warmup: options.warmup,
        memoryRequests: options.memoryRequests,
        nodeThreads: options.nodeThreads,
        cold: options.cold,
        mixed: options.mixed,
        modelsDir: options.modelsDir,
      },
      cells,
      colds,
      mixed,
      targets: targetResults(cells),
    };
    writeFileSync(options.json, `${JSON.stringify(json, null, 1)}\n`);
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) console.error(`error: ${error.message}`);
  else console.error(error);
  process.exitCode = 1;
});
