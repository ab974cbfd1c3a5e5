/**
 * A trained head as a standalone ONNX model: the base model's graph with the ImageNet classifier removed and the head
 * (one Gemm over the `embedding` output: logits = W·e + b) in its place, `embedding` kept as the second output, fp32
 * and int8. The service does not need these files (it serves a head on its base model's session); they are for use
 * elsewhere. The temperature is NOT in the graph: `logits` are the head's raw logits, the served scores are
 * softmax(logits / temperature), and the temperature and labels travel in the model's metadata.
 *
 * int8 is the base's int8 (the backbone quantized with EDGE_RECIPE, as `models build` quantizes the base) with the
 * head left in float: it is K×C floats (a few KB), and so the int8 file computes exactly what the service computes on
 * the int8 base's embedding. Every build is checked before anything is written: each file's logits against a float64
 * head applied to the embedding it starts from (the fp32 base model's for fp32, its own for int8), and int8 against
 * fp32 as the base models are.
 */
import { copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { onnx as OnnxMessages } from 'onnx-proto';
import { CodedError } from '../../../worker/core/errors.js';
import type { ModelSession } from '../../../worker/core/inference/backend.js';
import { HEAD_FORMAT, type HeadFile } from '../../../worker/core/manifest/head.js';
import { sha256Hex, type ManifestModel } from '../../../worker/core/manifest/manifest.js';
import { modelId, syntheticInputs } from '../build.js';
import type { ToolchainHost } from '../host.js';
import { TensorDataType } from '../onnx/proto.js';
import {
  decodeModel,
  encodeModel,
  GraphIndex,
  graphOf,
  intAttr,
  makeNode,
  Namer,
  type NodeProto,
} from '../quantize/graph.js';
import { EDGE_RECIPE, quantizeModel } from '../quantize/index.js';
import { floatTensor, toNumber } from '../quantize/tensors.js';
import { preprocessImageFiles } from '../quantize/calibration.js';
import { targetDir } from '../targets.js';
import { compareModels, type AgreementMetrics } from '../verify/compare.js';
import { EMBEDDING_NAME, OUTPUT_NAME } from './index.js';

export type HeadPrecision = 'fp32' | 'int8';

export interface HeadExportOptions {
  /** The fp32 base model (`efficientvit_<base>.fp32.onnx` of a build). */
  baseOnnx: string;
  head: HeadFile;
  outDir: string;
  precisions: readonly HeadPrecision[];
  /** onnxruntime for the checks (scripts/lib/node-host.ts). */
  host: ToolchainHost;
  /** Preprocessed real images, each float32 [3, 224, 224]; deterministic synthetic ones when absent. */
  verificationImages?: readonly Float32Array[];
  onStage?: (stage: string) => void;
}

export interface ExportedHeadModel {
  precision: HeadPrecision;
  /** File name in outDir: `<name>.<precision>.onnx`. */
  file: string;
  bytes: number;
  sha256: string;
  /** Max |Δlogit| vs the float64 head on the embedding the file's logits start from. */
  maxAbsLogitDelta: number;
  /** int8 only: how closely it follows the fp32 file, as `models build` reports for the base models. */
  agreementVsFp32?: AgreementMetrics;
}

export type HeadExportCode = 'invalid-head' | 'invalid-base' | 'head-mismatch';

/** A head or base model the export cannot use, or a built file that fails its check (nothing is written then). */
export class HeadExportError extends CodedError<HeadExportCode> {}

/** The bar for |Δlogit| against the float64 head. */
export const HEAD_TOLERANCE = 1e-3;

/** Checks, exports, verifies, then writes every requested precision (all or none). */
export async function exportHeadModels(options: HeadExportOptions): Promise<ExportedHeadModel[]> {
  const { head } = options;
  const stage = options.onStage ?? (() => {});
  checkHeadFile(head);
  for (const p of options.precisions)
    if (p !== 'fp32' && p !== 'int8') throw new Error(`precision ${p} is not built for heads (fp32, int8)`);
  const baseBytes = await readFile(options.baseOnnx).then(
    (bytes) => new Uint8Array(bytes),
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
      throw new HeadExportError(
        'invalid-base',
        `${options.baseOnnx} not found: the standalone ONNX is built from the base's fp32 model ` +
          `(\`npm run models -- build --variants ${head.base.replace(/-.*/, '')} --precisions fp32,int8\`)`,
      );
    },
  );
  stage('attach the head');
  const backbone = backboneOf(baseBytes, head, options.baseOnnx);
  const fp32 = withHead(backbone, head);
  const images = options.verificationImages?.length ? options.verificationImages : syntheticInputs(2);
  const backend = options.host.cpuBackend();
  const [base, fp32Session] = await Promise.all([backend.load(baseBytes), backend.load(fp32)]);
  const sessions: ModelSession[] = [base, fp32Session];
  try {
    stage('check fp32 against the float64 head');
    const built: { precision: HeadPrecision; bytes: Uint8Array; delta: number; agreement?: AgreementMetrics }[] = [];
    const baseEmbeddings = await embeddingsOf(base, images);
    const fp32Delta = await checkHead(fp32Session, images, head, baseEmbeddings, 'fp32');
    if (options.precisions.includes('fp32')) built.push({ precision: 'fp32', bytes: fp32, delta: fp32Delta });
    if (options.precisions.includes('int8')) {
      stage('quantize int8');
      const int8 = withHead(await quantizeModel(backbone, [], EDGE_RECIPE), head);
      const int8Session = await backend.load(int8);
      sessions.push(int8Session);
      stage('check int8 against the float64 head and fp32');
      const delta = await checkHead(int8Session, images, head, undefined, 'int8');
      const agreement = await compareModels(int8Session, fp32Session, images);
      built.push({ precision: 'int8', bytes: int8, delta, agreement });
    }
    stage('write');
    await mkdir(options.outDir, { recursive: true });
    const written: ExportedHeadModel[] = [];
    for (const b of built) {
      const file = `${head.name}.${b.precision}.onnx`;
      await writeFile(path.join(options.outDir, `${file}.tmp`), b.bytes);
      written.push({
        precision: b.precision,
        file,
        bytes: b.bytes.byteLength,
        sha256: await sha256Hex(b.bytes),
        maxAbsLogitDelta: b.delta,
        ...(b.agreement ? { agreementVsFp32: b.agreement } : {}),
      });
    }
    for (const w of written)
      await rename(path.join(options.outDir, `${w.file}.tmp`), path.join(options.outDir, w.file));
    return written;
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
}

/** What the trainer hands over once a head is written (`npm run models -- train`). */
export interface HeadExportRequest {
  head: HeadFile;
  /** The base model's manifest entry, and the folder holding its file. */
  base: ManifestModel;
  baseDir: string;
  /** Build folders the head was written to (each has the base). */
  outDirs: string[];
  host: ToolchainHost;
  /** A few training images (paths) to verify the export on. */
  images: string[];
}

/**
 * The trainer's step: both precisions from the base's fp32 twin in `baseDir`, verified on `images`, into every
 * folder of `outDirs` but the edge's (its folder is deployed as Static Assets, and the edge serves the head on its
 * base's session: the standalone files would only be uploaded).
 */
export async function exportTrainedHead(request: HeadExportRequest): Promise<{ files: string[]; notes: string[] }> {
  const edge = path.resolve(targetDir('edge'));
  const dirs = request.outDirs.filter((dir) => path.resolve(dir) !== edge);
  if (dirs.length === 0) return { files: [], notes: [] };
  const baseOnnx = path.join(request.baseDir, `${modelId(request.base.variant, 'fp32')}.onnx`);
  const images = await preprocessImageFiles(
    request.images,
    await request.host.imageCodec(),
    request.base.preprocessing,
  );
  const built = await exportHeadModels({
    ...{ baseOnnx, head: request.head, outDir: dirs[0], precisions: ['fp32', 'int8'] },
    ...{ host: request.host, verificationImages: images },
  });
  const files: string[] = [];
  for (const dir of dirs)
    for (const b of built) {
      if (dir !== dirs[0]) await copyFile(path.join(dirs[0], b.file), path.join(dir, b.file));
      files.push(path.join(dir, b.file));
    }
  const notes = built.map(
    ({ file, maxAbsLogitDelta: delta, agreementVsFp32: a }) =>
      `${file}: max |Δlogit| vs the float64 head ${delta.toExponential(1)}` +
      (a ? `; vs fp32: top-1 ${(a.top1Agreement * 100).toFixed(0)}%, min cos ${a.minCosine.toFixed(4)}` : ''),
  );
  return { files, notes };
}

/** Shapes, counts and finiteness of a head file (the values the graph and the reference are built from). */
export function checkHeadFile(head: HeadFile): void {
  const bad = (message: string) =>
    new HeadExportError('invalid-head', `head ${JSON.stringify(head?.name)}: ${message}`);
  if (head?.format !== HEAD_FORMAT) throw bad(`format ${JSON.stringify(head?.format)}, expected ${HEAD_FORMAT}`);
  if (typeof head.name !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/i.test(head.name))
    throw bad('name must be letters, digits, . _ - (it names files)');
  if (!Number.isInteger(head.dims) || head.dims < 1) throw bad(`dims ${head.dims} is not a positive integer`);
  if (!Number.isInteger(head.classes) || head.classes < 2) throw bad(`classes ${head.classes}: at least 2 labels`);
  if (!Array.isArray(head.labels) || head.labels.length !== head.classes)
    throw bad(`${head.labels?.length} labels for ${head.classes} classes`);
  if (!Array.isArray(head.weights) || head.weights.length !== head.classes * head.dims)
    throw bad(`${head.weights?.length} weights for ${head.classes}×${head.dims}`);
  if (!Array.isArray(head.bias) || head.bias.length !== head.classes)
    throw bad(`${head.bias?.length} biases for ${head.classes} classes`);
  if (!head.weights.every(Number.isFinite) || !head.bias.every(Number.isFinite))
    throw bad('weights and bias must be finite numbers');
  if (!(Number.isFinite(head.temperature) && head.temperature > 0))
    throw bad(`temperature ${head.temperature} must be a positive number`);
}

/**
 * The base graph with only its `embedding` output: every node the logits need and the embedding does not (the
 * ImageNet classifier) is dropped, with the initializers only it used.
 */
export function backboneOf(baseBytes: Uint8Array, head: HeadFile, source: string): Uint8Array {
  const invalid = (message: string) => new HeadExportError('invalid-base', `${source}: ${message}`);
  let model: OnnxMessages.ModelProto;
  try {
    model = decodeModel(baseBytes);
  } catch (error) {
    throw invalid((error as Error).message);
  }
  const graph = graphOf(model);
  const outputs = (graph.output ?? []).map((o) => o.name);
  if (outputs[0] !== OUTPUT_NAME || !outputs.includes(EMBEDDING_NAME))
    throw invalid(`outputs [${outputs.join(', ')}]; a base model has '${OUTPUT_NAME}' and '${EMBEDDING_NAME}'`);
  if ((graph.initializer ?? []).some((t) => t.dataType === TensorDataType.INT8))
    throw invalid('holds int8 weights: pass the fp32 base model (the int8 file is quantized from it here)');
  const embedding = (graph.output ?? []).find((o) => o.name === EMBEDDING_NAME);
  const width = toNumber(embedding?.type?.tensorType?.shape?.dim?.[1]?.dimValue);
  if (width !== head.dims) throw invalid(`embedding width ${width}, the head expects ${head.dims}`);

  const index = new GraphIndex(graph);
  const needed = new Set<NodeProto>();
  const stack = [EMBEDDING_NAME];
  while (stack.length > 0) {
    const node = index.producer.get(stack.pop() as string);
    if (!node || needed.has(node)) continue;
    needed.add(node);
    for (const input of node.input ?? []) if (input) stack.push(input);
  }
  graph.node = (graph.node ?? []).filter((n) => needed.has(n));
  const used = new Set(graph.node.flatMap((n) => n.input ?? []));
  graph.initializer = (graph.initializer ?? []).filter((t) => used.has(t.name ?? ''));
  graph.output = [embedding as OnnxMessages.IValueInfoProto];
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => used.has(v.name ?? ''));
  return encodeModel(model);
}

/** `backbone` (outputs: embedding) + Gemm(embedding, W, b) → `logits` [N, K], first output; metadata names the head. */
export function withHead(backbone: Uint8Array, head: HeadFile): Uint8Array {
  const model = decodeModel(backbone);
  const graph = graphOf(model);
  const namer = new Namer(graph);
  const weight = namer.fresh('head.weight');
  const bias = namer.fresh('head.bias');
  graph.initializer = [
    ...(graph.initializer ?? []),
    floatTensor(weight, [head.classes, head.dims], head.weights),
    floatTensor(bias, [head.classes], head.bias),
  ];
  const transB = intAttr('transB', 1);
  graph.node = [
    ...(graph.node ?? []),
    makeNode('Gemm', namer.fresh('head/Gemm'), [EMBEDDING_NAME, weight, bias], [OUTPUT_NAME], [transB]),
  ];
  const logits: OnnxMessages.IValueInfoProto = {
    name: OUTPUT_NAME,
    type: {
      tensorType: { elemType: TensorDataType.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: head.classes }] } },
    },
  };
  // logits first: readers that know one output take the first.
  graph.output = [logits, ...(graph.output ?? [])];
  graph.name = `${graph.name}_head_${head.name}`;
  const meta: Record<string, string> = {
    head: head.name,
    head_format: HEAD_FORMAT,
    base: head.base,
    labels: JSON.stringify(head.labels),
    temperature: String(head.temperature),
  };
  model.metadataProps = [
    ...(model.metadataProps ?? []).filter((p) => !((p.key ?? '') in meta)),
    ...Object.entries(meta).map(([key, value]) => ({ key, value })),
  ];
  model.docString =
    `${model.docString ?? ''}; head '${head.name}' (${head.classes} labels) on the embedding: ` +
    "logits = W·e + b, scores = softmax(logits / temperature), the temperature in metadata 'temperature'";
  return encodeModel(model);
}

/** The float64 head on float32 embeddings [n, C]: logits [n, K]. */
export function headLogits(head: HeadFile, embeddings: Float32Array, n: number): Float64Array {
  const { classes, dims, weights, bias } = head;
  const out = new Float64Array(n * classes);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < classes; k++) {
      let sum = bias[k];
      for (let j = 0; j < dims; j++) sum += weights[k * dims + j] * embeddings[i * dims + j];
      out[i * classes + k] = sum;
    }
  }
  return out;
}

const INPUT_DIMS = [3, 224, 224];

async function embeddingsOf(session: ModelSession, images: readonly Float32Array[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const image of images) {
    const { embedding } = await session.run(image, [1, ...INPUT_DIMS]);
    if (!embedding) throw new HeadExportError('invalid-base', 'the base model gave no embedding');
    out.push(embedding.data);
  }
  return out;
}

/**
 * Max |Δlogit| of `session` vs the float64 head on `embeddings` (or on the session's own embedding output when
 * none are given); throws beyond HEAD_TOLERANCE (NaN fails too).
 */
async function checkHead(
  session: ModelSession,
  images: readonly Float32Array[],
  head: HeadFile,
  embeddings: readonly Float32Array[] | undefined,
  what: HeadPrecision,
): Promise<number> {
  let largest = 0;
  for (const [i, image] of images.entries()) {
    const { data, dims, embedding } = await session.run(image, [1, ...INPUT_DIMS]);
    const e = embeddings?.[i] ?? embedding?.data;
    if (!e || dims[1] !== head.classes)
      throw new HeadExportError('head-mismatch', `${head.name} ${what}: logits [${dims}] or no embedding output`);
    const expected = headLogits(head, e, 1);
    // A NaN sticks (and fails the bar below).
    for (let k = 0; k < expected.length; k++) largest = Math.max(largest, Math.abs(data[k] - expected[k]));
  }
  if (!(largest <= HEAD_TOLERANCE))
    throw new HeadExportError(
      'head-mismatch',
      `${head.name} ${what} ONNX disagrees with the float64 head (max |Δlogit| ${largest}, bar ${HEAD_TOLERANCE}): not written`,
      { details: { maxAbsLogitDelta: largest } },
    );
  return largest;
}
