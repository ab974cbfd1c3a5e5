/**
 * PIL's bicubic resize of an 8-bit RGB image (Pillow src/libImaging/Resample.c, ImagingResampleInner with the
 * 8bpc passes), reproduced operation for operation so that results are bit-identical:
 * - filter: Keys cubic with a = -0.5, support 2, stretched by the downscale factor (that is the antialiasing);
 * - per output pixel, weights over the input window are computed in double, normalized to sum 1, then converted to
 *   fixed point with PRECISION_BITS = 32 - 8 - 2 = 22, rounding half away from zero;
 * - horizontal pass first (into rows of the intermediate image), then vertical; each pass adds 2^21, shifts right by
 *   22 and clamps to 0–255;
 * - a pass whose output size equals the input size is skipped (the box is always the whole image here).
 *
 * Only the requested region of the output is computed (and only the input rows it needs): each output pixel depends
 * on nothing but its own coefficients, so this equals PIL's resize followed by a crop.
 */
import type { RgbImage } from '../image/types.js';

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;
const BICUBIC_SUPPORT = 2;

export interface Region {
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
  /** Per output index: first input index and number of inputs. */
  first: Int32Array;
  count: Int32Array;
  /** Fixed-point weights, `size` per output index. */
  weights: Int32Array;
  size: number;
}

/** precompute_coeffs + normalize_coeffs_8bpc, for outputs [start, start + length) of a resize inSize → outSize. */
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

/** Rows of an RGB raster: sample (row, column, channel) is at data[row * stride + column * 3 + channel + offset]. */
interface Raster {
  data: Uint8Array;
  stride: number;
  offset: number;
}

/** Output columns [region.x, +width) for input rows [firstRow, lastRow): PIL's horizontal pass. */
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

/** Output rows [region.y, +height) from `rows` (region.width columns wide): PIL's vertical pass. */
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

/**
 * The `region` of `src` resized to outWidth × outHeight with PIL's bicubic filter: bit-identical to
 * `image.resize((outWidth, outHeight), Image.BICUBIC).crop(region)` on an RGB image.
 */
export function resizeBicubic(src: RgbImage, outWidth: number, outHeight: number, region: Region): RgbImage {
  const { x, y, width, height } = region;
  if (x < 0 || y < 0 || width < 1 || height < 1 || x + width > outWidth || y + height > outHeight) {
    throw new RangeError(`region ${JSON.stringify(region)} is not inside the ${outWidth}×${outHeight} output`);
  }
  const needHorizontal = outWidth !== src.width;
  const needVertical = outHeight !== src.height;

  // The input rows the region's output rows read.
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
