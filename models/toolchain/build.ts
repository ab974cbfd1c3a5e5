/**
 * The model build: checkpoint → validated state dict → fp32 ONNX → checked against the float64 reference →
 * int8 → checked against its fp32 twin → files + manifest. `npm run models -- build` and `npm start` call this.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { efficientVitLayout, validateStateDict } from '../efficientvit.js';
import { IMAGENET_1K, IMAGENET_1K_ID } from '../imagenet-1k.js';
import {
  IMAGENET_PREPROCESSING,
  sha256Hex,
  type ManifestModel,
  type Precision,
} from '../../worker/core/manifest/manifest.js';
import { readCheckpoint } from './checkpoint/index.js';
import { EMBEDDING_NAME, exportOnnx, EXPORT_OPSET, INPUT_NAME, OUTPUT_NAME, type GraphKind } from './export/index.js';
import { upsertManifest } from './manifest-file.js';
import {
  cachedCheckpointPath,
  isFile,
  obtainCheckpoint,
  officialCheckpointUrl,
  type ObtainOptions,
} from './checkpoint/obtain.js';
import { DownloadError } from './download.js';
import { EDGE_RECIPE, quantizeModel } from './quantize/index.js';
import { compareModels, type AgreementMetrics } from './verify/index.js';
import { checkAgainstReference, ModelCheckError } from './verify/reference-check.js';
import { convertToFp16 } from './precision/fp16.js';
import type { Variant } from '../../worker/core/manifest/manifest.js';
import type { InferenceBackend } from '../../worker/core/inference/backend.js';
import type { ToolchainHost } from './host.js';

export interface BuildOptions {
  /** onnxruntime for the checks (scripts/lib/node-host.ts). */
  host: ToolchainHost;
  variants: readonly Variant[];
  precisions: readonly Precision[];
  outDir: string;
  checkpointsDir?: string;
  /** Where downloaded checkpoints are kept between builds; default `<outDir>/.cache/checkpoints`. */
  cacheDir?: string;
  /** Preprocessed real images to verify with; synthetic inputs are used when there are none. */
  verificationImages?: readonly Float32Array[];
  graph?: GraphKind;
  onEvent?: (event: BuildEvent) => void;
  /** Where checkpoints are downloaded from; default the official release. */
  checkpointUrl?: (variant: Variant) => string;
}

export type BuildEvent =
  | { kind: 'stage'; variant: Variant; stage: string }
  | { kind: 'download'; variant: Variant; received: number; total?: number };

export interface BuiltModel {
  entry: ManifestModel;
  /** fp32: max |Δlogit| vs the float64 reference; int8: agreement with its fp32 twin. */
  check: { maxAbsDiffVsReference?: number; agreement?: AgreementMetrics };
}

/** The API name of a build: the default (int8) build of M0 is `m0`, its float twin `m0-fp32`. */
export function modelName(variant: Variant, precision: Precision): string {
  return precision === 'int8' ? variant : `${variant}-${precision}`;
}

export function modelId(variant: Variant, precision: Precision): string {
  return `efficientvit_${variant}.${precision}`;
}

/** The onnxruntime release the models are verified with (JS and wasm are pinned to it together). */
const ortVersion: string = JSON.parse(
  readFileSync(new URL('../../node_modules/onnxruntime-common/package.json', import.meta.url), 'utf8'),
).version;

const SUPPORTED_PRECISIONS: readonly Precision[] = ['fp32', 'int8', 'fp16'];

export async function buildModels(options: BuildOptions): Promise<BuiltModel[]> {
  for (const p of options.precisions) {
    if (!SUPPORTED_PRECISIONS.includes(p))
      throw new Error(`precision ${p} is not built (supported: ${SUPPORTED_PRECISIONS.join(', ')})`);
  }
  const inputs = options.verificationImages?.length ? options.verificationImages.slice(0, 4) : syntheticInputs(2);
  const backend = options.host.cpuBackend();
  const emit = options.onEvent ?? (() => {});
  const graph = options.graph ?? 'optimized';
  const built: BuiltModel[] = [];

  // Every checkpoint is found, read and checked against its variant before anything is converted, so a missing
  // or wrong one fails the build in seconds and before it has written a single file.
  const sources = [];
  const obtain: Omit<ObtainOptions, 'onProgress'> = {
    checkpointsDir: options.checkpointsDir,
    cacheDir: options.cacheDir ?? path.join(options.outDir, '.cache', 'checkpoints'),
    checkpointUrl: options.checkpointUrl,
  };
  for (const variant of options.variants) {
    emit({ kind: 'stage', variant, stage: 'checkpoint' });
    const checkpoint = await obtainCheckpoint(variant, {
      ...obtain,
      onProgress: (received, total) => emit({ kind: 'download', variant, received, total }),
    }).catch(async (error: unknown) => {
      if (error instanceof DownloadError && error.code === 'offline')
        throw await offlineError(error, options.variants, obtain);
      throw error;
    });
    const { stateDict, format } = readCheckpoint(checkpoint.bytes, checkpoint.source);
    const weights = validateStateDict(stateDict, variant);
    sources.push({ variant, weights, source: { checkpoint: checkpoint.source, sha256: checkpoint.sha256, format } });
  }

  await mkdir(options.outDir, { recursive: true });
  await writeAtomically(path.join(options.outDir, `${IMAGENET_1K_ID}.labels.json`), JSON.stringify(IMAGENET_1K));
  for (const { variant, weights, source } of sources) {
    emit({ kind: 'stage', variant, stage: 'export fp32' });
    const fp32 = exportOnnx(weights, variant, { graph });
    emit({ kind: 'stage', variant, stage: 'check fp32 against the float64 reference' });
    const reference = await checkAgainstReference(backend, fp32, weights, variant, inputs.slice(0, 2));
    const maxAbsDiffVsReference = reference.maxAbsDiff;
    const models: BuiltModel[] = [];
    let int8: Uint8Array | undefined;
    let agreement: AgreementMetrics | undefined;
    if (options.precisions.includes('int8')) {
      emit({ kind: 'stage', variant, stage: 'quantize int8' });
      int8 = await quantizeModel(fp32, [], EDGE_RECIPE);
      emit({ kind: 'stage', variant, stage: 'check int8 against fp32' });
      agreement = await agreementWith(backend, int8, fp32, inputs);
    }
    let fp16: { bytes: Uint8Array; agreement: AgreementMetrics } | undefined;
    if (options.precisions.includes('fp16')) {
      emit({ kind: 'stage', variant, stage: 'convert fp16' });
      const bytes = convertToFp16(fp32);
      emit({ kind: 'stage', variant, stage: 'check fp16 against fp32' });
      // On the CPU provider, which runs fp16 ops it has no kernel for through inserted fp32 casts: this measures the
      // weights' rounding; scripts/gpu-check.sh repeats the comparison with CUDA's fp16 arithmetic.
      const fp16Agreement = await agreementWith(backend, bytes, fp32, inputs);
      // The gate is the top-1 class: on the build's few inputs (synthetic ones, without --images) near-ties at rank 5
      // swap under any rounding. Top-5 equality is checked on the golden images (test/models/toolchain/fp16.test.ts) and shown
      // by \`npm run models -- verify\`.
      if (fp16Agreement.top1Agreement < 1) {
        throw new ModelCheckError(
          'reference-mismatch',
          `${modelId(variant, 'fp16')} changes the top-1 class of fp32 (agreement ${fp16Agreement.top1Agreement}, ` +
            `max |Δlogit| ${fp16Agreement.maxAbsDiff}): not written`,
        );
      }
      fp16 = { bytes, agreement: fp16Agreement };
    }
    // Written only once every check passed, and entered in the manifest right away: no ONNX file without an entry.
    if (options.precisions.includes('fp32')) {
      const entry = await writeModel(options.outDir, variant, 'fp32', fp32, source, graph, {
        maxAbsDiffVsReference,
        embeddingMaxAbsDiffVsReference: reference.embeddingMaxAbsDiff,
      });
      models.push({ entry, check: { maxAbsDiffVsReference } });
    }
    if (int8 && agreement) {
      const entry = await writeModel(options.outDir, variant, 'int8', int8, source, graph, {
        top1AgreementVsFp32: agreement.top1Agreement,
        minCosineVsFp32: agreement.minCosine,
        ...(agreement.embeddingMinCosine !== undefined
          ? { embeddingMinCosineVsFp32: agreement.embeddingMinCosine }
          : {}),
      });
      models.push({ entry, check: { agreement } });
    }
    if (fp16) {
      const entry = await writeModel(options.outDir, variant, 'fp16', fp16.bytes, source, graph, {
        maxAbsDiffVsFp32: fp16.agreement.maxAbsDiff,
        top1AgreementVsFp32: fp16.agreement.top1Agreement,
        top5OverlapVsFp32: fp16.agreement.top5Overlap,
        minCosineVsFp32: fp16.agreement.minCosine,
        ...(fp16.agreement.embeddingMinCosine !== undefined
          ? { embeddingMinCosineVsFp32: fp16.agreement.embeddingMinCosine }
          : {}),
      });
      models.push({ entry, check: { agreement: fp16.agreement } });
    }
    await upsertManifest(
      options.outDir,
      models.map((b) => b.entry),
    );
    emit({ kind: 'stage', variant, stage: 'done' });
    built.push(...models);
  }
  return built;
}

/** Offline: every checkpoint this build still lacks, by URL, and where to put each one. */
async function offlineError(
  cause: DownloadError,
  variants: readonly Variant[],
  obtain: Omit<ObtainOptions, 'onProgress'>,
): Promise<DownloadError> {
  const lines = [];
  for (const variant of variants) {
    const url = (obtain.checkpointUrl ?? officialCheckpointUrl)(variant);
    const file = cachedCheckpointPath(obtain.cacheDir, url);
    if (!(await isFile(file))) lines.push(`  ${url}\n    → ${file}`);
  }
  const reason = cause.message.split('. ')[0];
  return new DownloadError(
    'offline',
    `${reason}. Fetch on a machine with network access:\n${lines.join('\n')}\n` +
      'then rerun (the build uses these files as downloaded), or put them in any folder and pass ' +
      '`--checkpoints DIR` (or EFFICIENTVIT_CHECKPOINTS=DIR).',
  );
}

async function agreementWith(
  backend: InferenceBackend,
  candidate: Uint8Array,
  reference: Uint8Array,
  inputs: readonly Float32Array[],
): Promise<AgreementMetrics> {
  const [c, r] = await Promise.all([backend.load(candidate), backend.load(reference)]);
  try {
    return await compareModels(c, r, inputs);
  } finally {
    await Promise.all([c.release(), r.release()]);
  }
}

async function writeModel(
  outDir: string,
  variant: Variant,
  precision: Precision,
  onnx: Uint8Array,
  source: ManifestModel['source'],
  graph: GraphKind,
  notes: Record<string, number>,
): Promise<ManifestModel> {
  const id = modelId(variant, precision);
  const file = `${id}.onnx`;
  await writeAtomically(path.join(outDir, file), onnx);
  return {
    name: modelName(variant, precision),
    id,
    variant,
    precision,
    file,
    bytes: onnx.byteLength,
    sha256: await sha256Hex(onnx),
    source,
    input: { name: INPUT_NAME, shape: ['N', 3, 224, 224], dtype: 'float32' },
    output: { name: OUTPUT_NAME, shape: ['N', IMAGENET_1K.length], dtype: 'float32' },
    embedding: { name: EMBEDDING_NAME, shape: ['N', efficientVitLayout(variant).head.inFeatures], dtype: 'float32' },
    preprocessing: IMAGENET_PREPROCESSING,
    labels: IMAGENET_1K_ID,
    opset: EXPORT_OPSET,
    graph,
    verified: { onnxruntime: ortVersion, backends: ['onnxruntime-node/cpu'], notes },
  };
}

async function writeAtomically(file: string, data: Uint8Array | string): Promise<void> {
  await writeFile(`${file}.tmp`, data);
  await rename(`${file}.tmp`, file);
}

/**
 * Deterministic photo-like inputs (a few soft colour blobs on a gradient, in the normalized range), for checking
 * an export when no real images were given: the check compares two implementations of the same function, but
 * high-frequency patterns drive these nets far outside the activations real images produce.
 */
export function syntheticInputs(count: number): Float32Array[] {
  const size = 224;
  const plane = size * size;
  return Array.from({ length: count }, (_, k) => {
    const blobs = Array.from({ length: 4 }, (_, b) => ({
      x: size * (0.2 + 0.6 * frac(0.37 * (b + 1) + 0.11 * k)),
      y: size * (0.2 + 0.6 * frac(0.61 * (b + 1) + 0.23 * k)),
      radius: size * (0.12 + 0.1 * frac(0.29 * (b + 2) + 0.07 * k)),
      colour: [0, 1, 2].map((c) => frac(0.43 * (b + 1) * (c + 1) + 0.17 * k)),
    }));
    const input = new Float32Array(3 * plane);
    for (let c = 0; c < 3; c++) {
      const { mean, std } = { mean: IMAGENET_PREPROCESSING.mean[c], std: IMAGENET_PREPROCESSING.std[c] };
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          let v = 0.3 + (0.3 * (x + y)) / (2 * size);
          for (const blob of blobs) {
            const d2 = ((x - blob.x) ** 2 + (y - blob.y) ** 2) / blob.radius ** 2;
            v += (blob.colour[c] - v) * Math.exp(-d2);
          }
          input[c * plane + y * size + x] = (Math.round(v * 255) / 255 - mean) / std;
        }
      }
    }
    return input;
  });
}

const frac = (v: number) => v - Math.floor(v);
