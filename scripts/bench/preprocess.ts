/**
 * The PIL-exact evaluation transform (worker/core/preprocess), before and after the speed-up, side by side in one run:
 *
 *   npx tsx scripts/bench/preprocess.ts [--runs 200]
 *
 * "before" is a verbatim copy of the previous resize.ts + transform.ts loops (below); "after" is the shipped
 * preprocess(). Inputs: a decoded 500×375 ImageNet JPEG and the 12 MP phone photo after the DCT-scaled decode the
 * service does (756×1008 upright). The two run interleaved after a warm-up; the bench asserts the outputs are
 * bit-identical and prints per-input medians and the before/after ratio.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGENET_PREPROCESSING, type Preprocessing } from '../../worker/core/manifest/manifest.js';
import { createImageDecoder } from '../../worker/core/image/decode.js';
import type { RgbImage } from '../../worker/core/image/types.js';
import { loadImageWasmModules } from '../../worker/runtimes/node/image-wasm.js';
import { centerCropOffset, preprocess, resizedSize } from '../../worker/core/preprocess/transform.js';
import { exitOnHelp } from '../lib/cli.js';
import { median } from './lib/stats.js';

exitOnHelp(import.meta.url);

// ---- before: the previous implementation, kept verbatim as the baseline ----

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;
const BICUBIC_SUPPORT = 2;

interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coefficients {
  first: Int32Array;
  count: Int32Array;
  weights: Int32Array;
  size: number;
}

function coefficients(inSize: number, outSize: number, start: number, length: number): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = BICUBIC_SUPPORT * filterScale;
  const size = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(length);
  const count = new Int32Array(length);
  const weights = new Int32Array(length * size);
  const k = new Float64Array(size);
  for (let i = 0; i < length; i++) {
    const center = (start + i + 0.5) * scale;
    const ss = 1 / filterScale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const xmax = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      k[x] = w;
      sum += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = sum !== 0 ? k[x] / sum : k[x];
      weights[i * size + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[i] = xmin;
    count[i] = Math.max(0, xmax);
  }
  return { first, count, weights, size };
}

function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

interface Raster {
  data: Uint8Array;
  stride: number;
  offset: number;
}

function horizontalPass(src: RgbImage, outWidth: number, region: Region, firstRow: number, lastRow: number): Raster {
  const c = coefficients(src.width, outWidth, region.x, region.width);
  const out = new Uint8Array((lastRow - firstRow) * region.width * 3);
  const data = src.data;
  let o = 0;
  for (let y = firstRow; y < lastRow; y++) {
    const rowStart = y * src.width * 3;
    for (let i = 0; i < region.width; i++) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      const kStart = i * c.size;
      const n = c.count[i];
      for (let x = 0, p = rowStart + c.first[i] * 3; x < n; x++, p += 3) {
        const w = c.weights[kStart + x];
        r += data[p] * w;
        g += data[p + 1] * w;
        b += data[p + 2] * w;
      }
      out[o++] = clip8(r);
      out[o++] = clip8(g);
      out[o++] = clip8(b);
    }
  }
  return { data: out, stride: region.width * 3, offset: -firstRow * region.width * 3 };
}

function verticalPass(rows: Raster, c: Coefficients, region: Region): Uint8Array {
  const rowBytes = region.width * 3;
  const out = new Uint8Array(region.height * rowBytes);
  const { data, stride, offset } = rows;
  let o = 0;
  for (let i = 0; i < region.height; i++) {
    const kStart = i * c.size;
    const n = c.count[i];
    const top = c.first[i] * stride + offset;
    for (let x = 0; x < rowBytes; x++) {
      let sum = HALF;
      for (let y = 0, p = top + x; y < n; y++, p += stride) sum += data[p] * c.weights[kStart + y];
      out[o++] = clip8(sum);
    }
  }
  return out;
}

function oldResizeBicubic(src: RgbImage, outWidth: number, outHeight: number, region: Region): RgbImage {
  const { x, y, width, height } = region;
  if (x < 0 || y < 0 || width < 1 || height < 1 || x + width > outWidth || y + height > outHeight) {
    throw new RangeError(`region ${JSON.stringify(region)} is not inside the ${outWidth}×${outHeight} output`);
  }
  const needHorizontal = outWidth !== src.width;
  const needVertical = outHeight !== src.height;
  const vertical = needVertical ? coefficients(src.height, outHeight, y, height) : undefined;
  const firstRow = vertical ? vertical.first[0] : y;
  const lastRow = vertical ? vertical.first[height - 1] + vertical.count[height - 1] : y + height;
  const rows: Raster = needHorizontal
    ? horizontalPass(src, outWidth, region, firstRow, lastRow)
    : { data: src.data, stride: src.width * 3, offset: x * 3 };
  if (vertical) return { width, height, data: verticalPass(rows, vertical, region) };
  const rowBytes = width * 3;
  const out = new Uint8Array(height * rowBytes);
  for (let row = 0; row < height; row++) {
    const start = (y + row) * rows.stride + rows.offset;
    out.set(rows.data.subarray(start, start + rowBytes), row * rowBytes);
  }
  return { width, height, data: out };
}

function oldNormalizationTables(mean: readonly number[], std: readonly number[]): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const table = new Float32Array(256);
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    for (let v = 0; v < 256; v++) table[v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
    return table;
  });
}

const oldTableCache = new WeakMap<Preprocessing, Float32Array[]>();

function oldPreprocess(image: RgbImage, preprocessing: Preprocessing): Float32Array {
  const crop = preprocessing.centerCrop;
  const plane = crop * crop;
  const out = new Float32Array(3 * plane);
  const offset = 0;
  const size = resizedSize(image.width, image.height, preprocessing.resizeShortSide);
  const region = {
    x: centerCropOffset(size.width, crop),
    y: centerCropOffset(size.height, crop),
    width: crop,
    height: crop,
  };
  const cropped = oldResizeBicubic(image, size.width, size.height, region).data;
  let tables = oldTableCache.get(preprocessing);
  if (!tables) {
    tables = oldNormalizationTables(preprocessing.mean, preprocessing.std);
    oldTableCache.set(preprocessing, tables);
  }
  const [red, green, blue] = tables;
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    out[offset + i] = red[cropped[p]];
    out[offset + plane + i] = green[cropped[p + 1]];
    out[offset + 2 * plane + i] = blue[cropped[p + 2]];
  }
  return out;
}

// ---- the bench ----

const here = path.dirname(fileURLToPath(import.meta.url));
const SHARED = path.resolve(here, '../../../shared');
const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(args[runsAt + 1]) : 200;
const WARMUP = 30;

function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const decoder = createImageDecoder(await loadImageWasmModules());
const inputs: { name: string; image: RgbImage }[] = [];
for (const [name, file, options] of [
  ['imagenet 500×375', 'imagenet-sample/n01440764_tench.JPEG', { maxPixels: 50_000_000 }],
  [
    '12 MP photo, DCT-scaled',
    'photos/phone-4032x3024-exif6.jpg',
    { maxPixels: 20_000_000, minShortSide: IMAGENET_PREPROCESSING.resizeShortSide },
  ],
] as const) {
  const image = await decoder.decodeImage(new Uint8Array(readFileSync(path.join(SHARED, 'images', file))), options);
  inputs.push({ name: `${name} (${image.width}×${image.height})`, image });
}

// Bit-equality first, on every ImageNet sample, the photos and odd synthetic sizes, with the ImageNet transform and with
// an odd crop (odd widths and row counts take the kernels' remainder paths), then the timings.
const checks: RgbImage[] = inputs.map((input) => input.image);
for (const file of readdirSync(path.join(SHARED, 'images/imagenet-sample')).filter((name) => name.endsWith('.JPEG'))) {
  const bytes = new Uint8Array(readFileSync(path.join(SHARED, 'images/imagenet-sample', file)));
  checks.push(await decoder.decodeImage(bytes, { maxPixels: 50_000_000 }));
}
for (const [w, h] of [
  [257, 256],
  [256, 1000],
  [1000, 256],
  [224, 224],
  [300, 3000],
  [97, 1301],
  [255, 255],
  [1, 7],
] as const) {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761 + 7) >>> 24;
  checks.push({ width: w, height: h, data });
}
const ODD: Preprocessing = { ...IMAGENET_PREPROCESSING, resizeShortSide: 255, centerCrop: 223 };
const SMALL: Preprocessing = { ...IMAGENET_PREPROCESSING, resizeShortSide: 7, centerCrop: 5 };
for (const image of checks) {
  for (const preprocessing of [IMAGENET_PREPROCESSING, ODD, SMALL]) {
    if (!sameBits(oldPreprocess(image, preprocessing), preprocess(image, preprocessing))) {
      throw new Error(
        `before/after outputs differ on a ${image.width}×${image.height} image, crop ${preprocessing.centerCrop}`,
      );
    }
  }
}
console.log(`bit-identical before/after on ${checks.length} images × 3 transforms`);

for (const { name, image } of inputs) {
  for (let i = 0; i < WARMUP; i++) {
    oldPreprocess(image, IMAGENET_PREPROCESSING);
    preprocess(image, IMAGENET_PREPROCESSING);
  }
  const before: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Alternate which goes first so neither always runs on the other's warm caches or GC debt.
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const which of order) {
      const start = performance.now();
      if (which === 0) oldPreprocess(image, IMAGENET_PREPROCESSING);
      else preprocess(image, IMAGENET_PREPROCESSING);
      (which === 0 ? before : after).push(performance.now() - start);
    }
  }
  const b = median(before);
  const a = median(after);
  console.log(
    `${name}: before ${b.toFixed(3)} ms, after ${a.toFixed(3)} ms median of ${RUNS} — ${(b / a).toFixed(2)}× faster`,
  );
}
