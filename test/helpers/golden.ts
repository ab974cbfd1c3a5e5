/**
 * Readers for the read-only fixtures in ../shared (never copied into the project): the synthetic checkpoints and
 * the golden inputs/logits that the official PyTorch code computed for the first 8 imagenet-sample images.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDir = path.resolve(repoRoot, '../shared');
export const goldenDir = path.join(sharedDir, 'fixtures/golden');
export const checkpointsDir = path.join(sharedDir, 'fixtures/checkpoints');

export type GoldenVariant = 'm0' | 'm1';
export const GOLDEN_VARIANTS: readonly GoldenVariant[] = ['m0', 'm1'];

export interface GoldenSet {
  variant: GoldenVariant;
  /** Absolute path of the official-format .pth the logits were computed from. */
  checkpointPath: string;
  images: string[];
  /** float32 [batch, 3, 224, 224], the official eval preprocessing. */
  input: Float32Array;
  inputDims: [number, number, number, number];
  /** float32 [batch, classes], official model code in float64, eval mode. */
  logits: Float32Array;
  classes: number;
  top5: number[][];
}

interface GoldenJson {
  variant: string;
  checkpoint: string;
  images: string[];
  input_shape: number[];
  logits_shape: number[];
  top5: number[][];
}

/** Little-endian float32 file as an aligned Float32Array (a copy). */
export function readFloat32File(file: string, expectedLength: number): Float32Array {
  const bytes = readFileSync(file);
  if (bytes.byteLength !== expectedLength * 4)
    throw new Error(`${file}: ${bytes.byteLength} bytes, expected ${expectedLength * 4}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: expectedLength }, (_, i) => view.getFloat32(i * 4, true));
}

const cache = new Map<GoldenVariant, GoldenSet>();

export function readGolden(variant: GoldenVariant): GoldenSet {
  const cached = cache.get(variant);
  if (cached) return cached;
  const meta = JSON.parse(readFileSync(path.join(goldenDir, `${variant}.json`), 'utf8')) as GoldenJson;
  const inputDims = meta.input_shape as [number, number, number, number];
  const [batch, classes] = meta.logits_shape;
  const set: GoldenSet = {
    variant,
    checkpointPath: path.join(checkpointsDir, meta.checkpoint),
    images: meta.images,
    input: readFloat32File(
      path.join(goldenDir, `${variant}.input.f32`),
      inputDims.reduce((a, b) => a * b, 1),
    ),
    inputDims,
    logits: readFloat32File(path.join(goldenDir, `${variant}.logits.f32`), batch * classes),
    classes,
    top5: meta.top5,
  };
  cache.set(variant, set);
  return set;
}

/** Images `indices` of a golden set as one NCHW batch. */
export function goldenBatch(
  set: GoldenSet,
  indices: readonly number[],
): { data: Float32Array; dims: [number, number, number, number] } {
  const [, c, h, w] = set.inputDims;
  const plane = c * h * w;
  const data = new Float32Array(indices.length * plane);
  indices.forEach((image, i) => data.set(set.input.subarray(image * plane, (image + 1) * plane), i * plane));
  return { data, dims: [indices.length, c, h, w] };
}

/** Rows `indices` of a [batch, classes] logits array. */
export function rows(logits: ArrayLike<number>, classes: number, indices: readonly number[]): Float64Array {
  const out = new Float64Array(indices.length * classes);
  indices.forEach((row, i) => {
    for (let j = 0; j < classes; j++) out[i * classes + j] = logits[row * classes + j];
  });
  return out;
}

/** The k largest entries of each row, best first. */
export function topK(logits: ArrayLike<number>, classes: number, k = 5): number[][] {
  const out: number[][] = [];
  for (let row = 0; row * classes < logits.length; row++) {
    const indices = Array.from({ length: classes }, (_, j) => j);
    indices.sort((a, b) => logits[row * classes + b] - logits[row * classes + a]);
    out.push(indices.slice(0, k));
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}
