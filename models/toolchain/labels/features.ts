/**
 * Each training image's features: the base model's `embedding` output for its eval view and its augmented views,
 * and the raw-pixel baseline's features. Every image goes through the service's own decoder and eval preprocessing
 * (worker/core), and every result is cached by the file's sha256, the base model file's sha256 and the view, under
 * the build folder's .cache: a second run with other settings decodes and runs nothing it has seen.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CodedError } from '../../../worker/core/errors.js';
import type { ModelSession } from '../../../worker/core/inference/backend.js';
import type { ManifestModel } from '../../../worker/core/manifest/manifest.js';
import type { ImageCodec } from '../../../worker/core/model-input/image-input.js';
import type { LabelledFile } from './images.js';
import { seededRandom } from './random.js';
import { PIXEL_SIDE, pooledPixels, randomResizedCropFlip } from './views.js';

/** Largest image the trainer decodes (the toolchain's calibration limit). */
const MAX_PIXELS = 50_000_000;
/** Images per session call. */
const BATCH = 16;

export interface ImageFeatures {
  /** The base's embedding of the eval view, then of each augmented view. */
  views: Float32Array[];
  /** The baseline's features (views.ts pooledPixels). */
  pixels: Float32Array;
  sha256: string;
}

export interface BadImage {
  file: string;
  reason: string;
}

export interface FeatureRun {
  /** Per file, in order; undefined for a bad one. */
  features: (ImageFeatures | undefined)[];
  bad: BadImage[];
  cache: { hits: number; misses: number };
}

export interface FeatureOptions {
  session: ModelSession;
  base: ManifestModel;
  codec: ImageCodec;
  /** The cache root (buildRoot/.cache/labels). */
  cacheDir: string;
  augment: number;
  seed: number;
  onProgress?: (done: number, total: number) => void;
}

const viewName = (view: number, seed: number) => (view === 0 ? 'eval' : `aug${view}-seed${seed}`);

/** A 32-bit seed from a string (FNV-1a): each augmented view's randomness depends on the file, not the order. */
function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

async function readCached(file: string, length: number): Promise<Float32Array | undefined> {
  try {
    const bytes = await readFile(file);
    if (bytes.byteLength !== length * 4) return undefined;
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  } catch {
    return undefined;
  }
}

async function writeCached(file: string, values: Float32Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  await rename(temporary, file);
}

export async function extractFeatures(files: readonly LabelledFile[], options: FeatureOptions): Promise<FeatureRun> {
  const { base, codec, session, augment, seed } = options;
  const dims = base.embedding?.shape[1];
  if (dims === undefined)
    throw new CodedError('no-embedding', `base ${base.name} was built without an embedding output`);
  const pre = base.preprocessing;
  const size = pre.centerCrop;
  const plane = 3 * size * size;
  const pixelLength = 3 * PIXEL_SIDE * PIXEL_SIDE;
  const modelCache = path.join(options.cacheDir, 'embeddings', base.sha256.slice(0, 16));
  const pixelCache = path.join(options.cacheDir, 'pixels', `${pre.resizeShortSide}-${size}-${PIXEL_SIDE}`);
  const features: (ImageFeatures | undefined)[] = new Array(files.length);
  const bad: BadImage[] = [];
  const cache = { hits: 0, misses: 0 };

  // Rows waiting for a session call: (file index, view) and the model input.
  let pending: { index: number; view: number; input: Float32Array }[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = new Float32Array(pending.length * plane);
    pending.forEach((row, i) => batch.set(row.input, i * plane));
    const output = await session.run(batch, [pending.length, 3, size, size]);
    if (!output.embedding || output.embedding.dims[1] !== dims)
      throw new CodedError('no-embedding', `base ${base.name} returned no embedding of width ${dims}`);
    for (const [i, row] of pending.entries()) {
      const values = output.embedding.data.slice(i * dims, (i + 1) * dims);
      const target = features[row.index]!;
      target.views[row.view] = values;
      await writeCached(path.join(modelCache, `${target.sha256}.${viewName(row.view, seed)}.f32`), values);
    }
    pending = [];
  };

  for (const [index, file] of files.entries()) {
    options.onProgress?.(index, files.length);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(file.path));
    } catch (error) {
      bad.push({ file: file.path, reason: `unreadable: ${(error as Error).message}` });
      continue;
    }
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const views: (Float32Array | undefined)[] = [];
    for (let view = 0; view <= augment; view++)
      views.push(await readCached(path.join(modelCache, `${sha256}.${viewName(view, seed)}.f32`), dims));
    let pixels = await readCached(path.join(pixelCache, `${sha256}.f32`), pixelLength);
    const missing = views.flatMap((v, view) => (v ? [] : [view]));
    if (missing.length === 0 && pixels) {
      cache.hits++;
      features[index] = { views: views as Float32Array[], pixels, sha256 };
      continue;
    }
    cache.misses++;
    let image;
    try {
      if (bytes.byteLength === 0) throw new Error('the file is empty');
      image = await codec.decode(bytes, { maxPixels: MAX_PIXELS, resizeShortSide: pre.resizeShortSide });
    } catch (error) {
      bad.push({ file: file.path, reason: (error as Error).message });
      continue;
    }
    const input = (view: number) => {
      const out = new Float32Array(plane);
      const source =
        view === 0 ? image : randomResizedCropFlip(image, seededRandom(hashSeed(`${seed}:${sha256}:${view}`)));
      codec.preprocess(source, pre, out, 0);
      return out;
    };
    const evalInput = input(0);
    if (!pixels) {
      pixels = pooledPixels(evalInput, size);
      await writeCached(path.join(pixelCache, `${sha256}.f32`), pixels);
    }
    features[index] = { views: views as Float32Array[], pixels, sha256 };
    for (const view of missing) {
      pending.push({ index, view, input: view === 0 ? evalInput : input(view) });
      if (pending.length >= BATCH) await flush();
    }
  }
  await flush();
  options.onProgress?.(files.length, files.length);
  return { features, bad, cache };
}
