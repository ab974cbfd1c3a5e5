/**
 * bench:edge's warm latency scenario, one cell per image × model: a fresh workerd process, its cold first request,
 * `warmup` untimed and `warm` timed requests end to end at the client (loopback HTTP, upload included) with the
 * worker's own stages from the response `timing`; alternating with each timed request, so that load drift hits both
 * alike, the Node references on the same image: the service's decode + preprocess + onnxruntime-node (native), and
 * the same onnxruntime-web wasm on the same tensor (workerd's own cost, as a ratio); whether they agree on the top-1
 * class. Then the isolate memory pass (memory.ts) and the process's RSS.
 */
import type { ManifestModel } from '../../../worker/core/manifest/manifest.js';
import type { ImageCodec } from '../../../worker/core/model-input/image-input.js';
import type { ModelSession } from '../../../worker/core/inference/backend.js';
import { type Classified, classify, type WorkerTiming } from '../lib/classify.js';
import { median, percentile } from '../lib/stats.js';
import { startWorkerd, statusMiB } from '../lib/workerd.js';
import { type IsolateMemory, isolateMemory, samplesAfter } from './memory.js';
import { IMAGES, type ImageKey, type Target, WORKER_NAME } from './setup.js';

/** Node's limit for the reference decode: the Worker's default MAX_MEGAPIXELS (wrangler.toml). */
const NODE_MAX_PIXELS = 16_000_000;

export interface Cell {
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
  /** workerd's process RSS when ready, after the cold request, peak over the cell; and after each warm request. */
  memory: { idleRssMiB: number; afterColdRssMiB: number; peakRssMiB: number; afterEachMiB: number[] };
  top1Agrees: boolean;
}

export interface References {
  support: ImageCodec;
  /** onnxruntime-node, the native reference. */
  nativeSession: ModelSession;
  /** onnxruntime-web in Node, the same wasm runtime as the Worker's. */
  wasmSession: ModelSession;
}

interface NodeRun {
  decodeMs: number;
  preprocessMs: number;
  inferenceMs: number;
  totalMs: number;
  top1: number;
  /** What the wasm reference runs on. */
  tensor: Float32Array;
}

async function classifyInNode(refs: References, entry: ManifestModel, bytes: Uint8Array): Promise<NodeRun> {
  const { preprocessing } = entry;
  const crop = preprocessing.centerCrop;
  const started = performance.now();
  const image = await refs.support.decode(bytes, {
    maxPixels: NODE_MAX_PIXELS,
    resizeShortSide: preprocessing.resizeShortSide,
  });
  const decoded = performance.now();
  const tensor = new Float32Array(3 * crop * crop);
  refs.support.preprocess(image, preprocessing, tensor, 0);
  const preprocessed = performance.now();
  const output = await refs.nativeSession.run(tensor, [1, 3, crop, crop]);
  const finished = performance.now();
  let top1 = 0;
  for (let i = 1; i < output.data.length; i++) if (output.data[i] > output.data[top1]) top1 = i;
  const [decodeMs, preprocessMs, inferenceMs] = [decoded - started, preprocessed - decoded, finished - preprocessed];
  return { decodeMs, preprocessMs, inferenceMs, totalMs: finished - started, top1, tensor };
}

/** One onnxruntime-web run in Node: the wasm workerd runs, timed by a clock that is not coarsened. */
async function inferWithWasmInNode(session: ModelSession, entry: ManifestModel, tensor: Float32Array): Promise<number> {
  const crop = entry.preprocessing.centerCrop;
  const started = performance.now();
  await session.run(tensor, [1, 3, crop, crop]);
  return performance.now() - started;
}

export async function runCell(
  settings: { warm: number; warmup: number; memoryRequests: number },
  { worker, image, bytes }: Target,
  entry: ManifestModel,
  refs: References,
): Promise<Cell> {
  const workerd = await startWorkerd(worker, WORKER_NAME);
  try {
    const { url, pid, probe } = workerd;
    const send = () => classify(url, entry.name, bytes);
    const idleRssMiB = statusMiB(pid, 'VmRSS');
    const cold = await send();
    const afterColdRssMiB = statusMiB(pid, 'VmRSS');
    const samples = [await probe!.sample()]; // the first request also created the session

    const workerRuns: Classified[] = [];
    const nodeRuns: NodeRun[] = [];
    const nodeWasmMs: number[] = [];
    const afterEachMiB: number[] = [];
    for (let i = 0; i < settings.warmup + settings.warm; i++) {
      const workerRun = await send();
      afterEachMiB.push(Math.round(statusMiB(pid, 'VmRSS')));
      const nodeRun = await classifyInNode(refs, entry, bytes);
      const wasmMs = await inferWithWasmInNode(refs.wasmSession, entry, nodeRun.tensor);
      if (i < settings.warmup) continue;
      workerRuns.push(workerRun);
      nodeRuns.push(nodeRun);
      nodeWasmMs.push(wasmMs);
    }
    samples.push(...(await samplesAfter(probe!, settings.memoryRequests, send)));
    const peakRssMiB = statusMiB(pid, 'VmHWM');
    const stage = (pick: (timing: WorkerTiming) => number) => median(workerRuns.map((run) => pick(run.timing)));
    const nodeStage = (pick: (run: NodeRun) => number) => median(nodeRuns.map(pick));
    const e2e = workerRuns.map((run) => run.e2eMs);
    return {
      image,
      imageLabel: IMAGES[image].label,
      model: entry.name,
      modelId: entry.id,
      startupMs: workerd.startupMs,
      cold: { e2eMs: cold.e2eMs, timing: cold.timing },
      warm: {
        e2eP50Ms: median(e2e),
        e2eP90Ms: percentile(e2e, 0.9),
        decodeP50Ms: stage((t) => t.decode_ms),
        preprocessP50Ms: stage((t) => t.preprocess_ms),
        inferenceP50Ms: stage((t) => t.inference_ms),
        serverTotalP50Ms: stage((t) => t.total_ms),
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
      isolate: isolateMemory(samples),
      memory: { idleRssMiB, afterColdRssMiB, peakRssMiB, afterEachMiB },
      top1Agrees: [...workerRuns, ...nodeRuns].every((run) => run.top1 === nodeRuns[0].top1),
    };
  } finally {
    await workerd.dispose();
  }
}
