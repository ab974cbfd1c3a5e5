/**
 * The official EfficientViT evaluation transform on an upright RGB image, exactly as torchvision runs it on a PIL
 * image: Resize(shortSide, BICUBIC) → CenterCrop(crop) → ToTensor (/255) → Normalize(mean, std), NCHW float32.
 * The parameters come from the manifest (worker/core/manifest/manifest.ts `Preprocessing`), which ships them beside each model.
 */
import type { Preprocessing } from '../manifest/manifest.js';
import type { RgbImage } from '../image/types.js';
import { resizeBicubicPlanes, type Region } from './resize.js';

/** torchvision's Resize(int): the short side becomes `shortSide`, the long side int(shortSide * long / short). */
export function resizedSize(width: number, height: number, shortSide: number): { width: number; height: number } {
  if (width <= height) return { width: shortSide, height: Math.trunc((shortSide * height) / width) };
  return { width: Math.trunc((shortSide * width) / height), height: shortSide };
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(value: number): number {
  const floor = Math.floor(value);
  const fraction = value - floor;
  if (fraction !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

/** torchvision's CenterCrop offsets: int(round((size - crop) / 2.0)). */
export function centerCropOffset(size: number, crop: number): number {
  return roundHalfEven((size - crop) / 2);
}

/** Per channel, the 256 possible outputs: float32 (v / 255 - mean) / std, each step rounded to float32 as torch does. */
function normalizationTables(mean: readonly number[], std: readonly number[]): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const table = new Float32Array(256);
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    for (let v = 0; v < 256; v++) table[v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
    return table;
  });
}

const tableCache = new WeakMap<Preprocessing, Float32Array[]>();

function checkPreprocessing(p: Preprocessing): void {
  if (p.interpolation !== 'bicubic' || p.colorSpace !== 'RGB' || p.layout !== 'NCHW') {
    throw new Error(`unsupported preprocessing: ${p.interpolation} ${p.colorSpace} ${p.layout}`);
  }
  if (
    !(
      Number.isInteger(p.centerCrop) &&
      p.centerCrop >= 1 &&
      Number.isInteger(p.resizeShortSide) &&
      p.centerCrop <= p.resizeShortSide
    )
  ) {
    throw new Error(
      `preprocessing needs integers 1 <= centerCrop (${p.centerCrop}) <= resizeShortSide (${p.resizeShortSide})`,
    );
  }
}

/** Number of float32 values one image takes in the model input: 3 × crop × crop. */
export function inputElements(preprocessing: Preprocessing): number {
  return 3 * preprocessing.centerCrop * preprocessing.centerCrop;
}

/** What a resize of one image into the model input is given: the resized size, the crop, the normalisation. */
export interface ResizePlan {
  width: number;
  height: number;
  region: Region;
  /** Per channel (R, G, B): the normalised float32 of each 8-bit value. */
  tables: Float32Array[];
}

/** Checks the parameters and the room in `out`, and works out the resize, the crop and the tables. */
export function planPreprocess(
  image: RgbImage,
  preprocessing: Preprocessing,
  out: Float32Array,
  offset: number,
): ResizePlan {
  checkPreprocessing(preprocessing);
  const crop = preprocessing.centerCrop;
  const plane = crop * crop;
  if (!Number.isInteger(offset) || offset < 0 || offset + 3 * plane > out.length) {
    throw new RangeError(`no room for a 3×${crop}×${crop} input at offset ${offset} of a ${out.length}-element tensor`);
  }
  const size = resizedSize(image.width, image.height, preprocessing.resizeShortSide);
  const region = {
    x: centerCropOffset(size.width, crop),
    y: centerCropOffset(size.height, crop),
    width: crop,
    height: crop,
  };
  let tables = tableCache.get(preprocessing);
  if (!tables) {
    tables = normalizationTables(preprocessing.mean, preprocessing.std);
    tableCache.set(preprocessing, tables);
  }
  return { ...size, region, tables };
}

/** Writes one image's model input (CHW planes) into `out` at element `offset`, e.g. a row of a batch tensor. */
export function preprocessInto(image: RgbImage, preprocessing: Preprocessing, out: Float32Array, offset: number): void {
  const { width, height, region, tables } = planPreprocess(image, preprocessing, out, offset);
  const [red, green, blue] = tables;
  resizeBicubicPlanes(image, width, height, region, red, green, blue, out, offset);
}

/** preprocessInto's signature: what a faster implementation with the same output supplies. */
export type PreprocessInto = typeof preprocessInto;

/** One image's model input as a new [3, crop, crop] tensor. */
export function preprocess(image: RgbImage, preprocessing: Preprocessing): Float32Array {
  const out = new Float32Array(inputElements(preprocessing));
  preprocessInto(image, preprocessing, out, 0);
  return out;
}

/**
 * The inverse of the normalization: one image's model input (CHW planes at `offset`) back to the 8-bit RGB crop it
 * was made from, interleaved. Exact: each channel's 256 outputs are ~0.017 apart and float32 rounding moves a value
 * by ~1e-7, so rounding recovers the byte the resize produced.
 */
export function inputToRgb(input: Float32Array, preprocessing: Preprocessing, offset = 0): RgbImage {
  const crop = preprocessing.centerCrop;
  const plane = crop * crop;
  const data = new Uint8Array(plane * 3);
  for (let c = 0; c < 3; c++) {
    const mean = preprocessing.mean[c];
    const std = preprocessing.std[c];
    const base = offset + c * plane;
    for (let i = 0; i < plane; i++) {
      const byte = Math.round((input[base + i] * std + mean) * 255);
      data[i * 3 + c] = byte < 0 ? 0 : byte > 255 ? 255 : byte;
    }
  }
  return { width: crop, height: crop, data };
}
