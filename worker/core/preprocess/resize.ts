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

/** Rows of an RGB raster: sample (row, column, channel) is at data[row * stride + column * 3 + channel + offset]. */
interface Raster {
  data: Uint8Array;
  stride: number;
  offset: number;
}

/** Reused for the horizontal pass's rows between calls (everything here is synchronous), grown as needed. */
let scratch = new Uint8Array(0);

/**
 * Output columns [region.x, +width) for input rows [firstRow, lastRow): PIL's horizontal pass, the three
 * interleaved channels in one sweep and three rows per sweep (they share the column's weights). The sums stay within
 * int32 (Σ|weights| · 255 · 2^22 < 2^31, as in Pillow's INT32 accumulators), so the wrapping Math.imul and `| 0`
 * give the exact sums and only let the JIT keep them as int32 without overflow checks.
 */
function horizontalPass(src: RgbImage, outWidth: number, region: Region, firstRow: number, lastRow: number): Raster {
  const c = coefficients(src.width, outWidth, region.x, region.width);
  const width = region.width;
  const size = c.size;
  const first = c.first;
  const count = c.count;
  const weights = c.weights;
  // Byte offset of each output column's first input sample within a row.
  const start = new Int32Array(width);
  for (let i = 0; i < width; i++) start[i] = first[i] * 3;
  const outStride = width * 3;
  const bytes = (lastRow - firstRow) * outStride;
  if (scratch.length < bytes) scratch = new Uint8Array(bytes);
  const out = scratch;
  const data = src.data;
  const srcStride = src.width * 3;
  const imul = Math.imul;
  const stride2 = 2 * srcStride;
  const outStride2 = 2 * outStride;
  let y = firstRow;
  let o = 0;
  for (; y + 2 < lastRow; y += 3, o += outStride2) {
    const rowStart = y * srcStride;
    for (let i = 0, k = 0; i < width; i++, k += size, o += 3) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      let r2 = HALF;
      let g2 = HALF;
      let b2 = HALF;
      let r3 = HALF;
      let g3 = HALF;
      let b3 = HALF;
      const end = k + count[i];
      for (let j = k, p = rowStart + start[i]; j < end; j++, p += 3) {
        const w = weights[j];
        const q = p + srcStride;
        const t = p + stride2;
        r = (r + imul(data[p], w)) | 0;
        g = (g + imul(data[p + 1], w)) | 0;
        b = (b + imul(data[p + 2], w)) | 0;
        r2 = (r2 + imul(data[q], w)) | 0;
        g2 = (g2 + imul(data[q + 1], w)) | 0;
        b2 = (b2 + imul(data[q + 2], w)) | 0;
        r3 = (r3 + imul(data[t], w)) | 0;
        g3 = (g3 + imul(data[t + 1], w)) | 0;
        b3 = (b3 + imul(data[t + 2], w)) | 0;
      }
      r >>= PRECISION_BITS;
      g >>= PRECISION_BITS;
      b >>= PRECISION_BITS;
      out[o] = r < 0 ? 0 : r > 255 ? 255 : r;
      out[o + 1] = g < 0 ? 0 : g > 255 ? 255 : g;
      out[o + 2] = b < 0 ? 0 : b > 255 ? 255 : b;
      r2 >>= PRECISION_BITS;
      g2 >>= PRECISION_BITS;
      b2 >>= PRECISION_BITS;
      out[o + outStride] = r2 < 0 ? 0 : r2 > 255 ? 255 : r2;
      out[o + outStride + 1] = g2 < 0 ? 0 : g2 > 255 ? 255 : g2;
      out[o + outStride + 2] = b2 < 0 ? 0 : b2 > 255 ? 255 : b2;
      r3 >>= PRECISION_BITS;
      g3 >>= PRECISION_BITS;
      b3 >>= PRECISION_BITS;
      out[o + outStride2] = r3 < 0 ? 0 : r3 > 255 ? 255 : r3;
      out[o + outStride2 + 1] = g3 < 0 ? 0 : g3 > 255 ? 255 : g3;
      out[o + outStride2 + 2] = b3 < 0 ? 0 : b3 > 255 ? 255 : b3;
    }
  }
  for (; y < lastRow; y++) {
    const rowStart = y * srcStride;
    for (let i = 0, k = 0; i < width; i++, k += size, o += 3) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      const end = k + count[i];
      for (let j = k, p = rowStart + start[i]; j < end; j++, p += 3) {
        const w = weights[j];
        r = (r + imul(data[p], w)) | 0;
        g = (g + imul(data[p + 1], w)) | 0;
        b = (b + imul(data[p + 2], w)) | 0;
      }
      r >>= PRECISION_BITS;
      g >>= PRECISION_BITS;
      b >>= PRECISION_BITS;
      out[o] = r < 0 ? 0 : r > 255 ? 255 : r;
      out[o + 1] = g < 0 ? 0 : g > 255 ? 255 : g;
      out[o + 2] = b < 0 ? 0 : b > 255 ? 255 : b;
    }
  }
  return { data: out, stride: outStride, offset: -firstRow * outStride };
}

/** The rows PIL's horizontal pass leaves (computed here only where the region reads them), and the vertical pass. */
interface Passes {
  rows: Raster;
  vertical: Coefficients | undefined;
}

function passes(src: RgbImage, outWidth: number, outHeight: number, region: Region): Passes {
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
  return { rows, vertical };
}

/**
 * The `region` of `src` resized to outWidth × outHeight with PIL's bicubic filter: bit-identical to
 * `image.resize((outWidth, outHeight), Image.BICUBIC).crop(region)` on an RGB image.
 */
export function resizeBicubic(src: RgbImage, outWidth: number, outHeight: number, region: Region): RgbImage {
  const { y, width, height } = region;
  const { rows, vertical } = passes(src, outWidth, outHeight, region);
  const { data, stride, offset } = rows;
  const rowBytes = width * 3;
  const out = new Uint8Array(height * rowBytes);
  if (!vertical) {
    for (let row = 0; row < height; row++) {
      const start = (y + row) * stride + offset;
      out.set(data.subarray(start, start + rowBytes), row * rowBytes);
    }
    return { width, height, data: out };
  }
  const { first, count, weights, size } = vertical;
  let o = 0;
  for (let i = 0, k = 0; i < height; i++, k += size) {
    const end = k + count[i];
    const top = first[i] * stride + offset;
    for (let x = 0; x < rowBytes; x++) {
      let sum = HALF;
      for (let j = k, p = top + x; j < end; j++, p += stride) sum = (sum + data[p] * weights[j]) | 0;
      sum >>= PRECISION_BITS;
      out[o++] = sum < 0 ? 0 : sum > 255 ? 255 : sum;
    }
  }
  return { width, height, data: out };
}

/**
 * resizeBicubic followed by a per-channel lookup into planes: writes `red[R]`, `green[G]`, `blue[B]` of each pixel of
 * the resized `region` to `out` as three width × height planes (CHW) starting at `offset`. The vertical pass is fused
 * with the lookup, so the 8-bit result never goes through an intermediate image; the values are exactly those of
 * looking up resizeBicubic's output.
 */
export function resizeBicubicPlanes(
  src: RgbImage,
  outWidth: number,
  outHeight: number,
  region: Region,
  red: Float32Array,
  green: Float32Array,
  blue: Float32Array,
  out: Float32Array,
  offset: number,
): void {
  const { y, width, height } = region;
  const { rows, vertical } = passes(src, outWidth, outHeight, region);
  const { data, stride } = rows;
  const plane = width * height;
  const g0 = offset + plane;
  const b0 = offset + 2 * plane;
  if (!vertical) {
    for (let row = 0, o = 0; row < height; row++) {
      for (let x = 0, p = (y + row) * stride + rows.offset; x < width; x++, p += 3, o++) {
        out[offset + o] = red[data[p]];
        out[g0 + o] = green[data[p + 1]];
        out[b0 + o] = blue[data[p + 2]];
      }
    }
    return;
  }
  const { first, count, weights, size } = vertical;
  const imul = Math.imul;
  let o = 0;
  for (let i = 0, k = 0; i < height; i++, k += size) {
    const end = k + count[i];
    const top = first[i] * stride + rows.offset;
    // Two pixels per sweep: they share the row's weights.
    let x = 0;
    let q = top;
    for (; x + 1 < width; x += 2, q += 6, o += 2) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      let r2 = HALF;
      let g2 = HALF;
      let b2 = HALF;
      for (let j = k, p = q; j < end; j++, p += stride) {
        const w = weights[j];
        r = (r + imul(data[p], w)) | 0;
        g = (g + imul(data[p + 1], w)) | 0;
        b = (b + imul(data[p + 2], w)) | 0;
        r2 = (r2 + imul(data[p + 3], w)) | 0;
        g2 = (g2 + imul(data[p + 4], w)) | 0;
        b2 = (b2 + imul(data[p + 5], w)) | 0;
      }
      r >>= PRECISION_BITS;
      g >>= PRECISION_BITS;
      b >>= PRECISION_BITS;
      r2 >>= PRECISION_BITS;
      g2 >>= PRECISION_BITS;
      b2 >>= PRECISION_BITS;
      out[offset + o] = red[r < 0 ? 0 : r > 255 ? 255 : r];
      out[offset + o + 1] = red[r2 < 0 ? 0 : r2 > 255 ? 255 : r2];
      out[g0 + o] = green[g < 0 ? 0 : g > 255 ? 255 : g];
      out[g0 + o + 1] = green[g2 < 0 ? 0 : g2 > 255 ? 255 : g2];
      out[b0 + o] = blue[b < 0 ? 0 : b > 255 ? 255 : b];
      out[b0 + o + 1] = blue[b2 < 0 ? 0 : b2 > 255 ? 255 : b2];
    }
    if (x < width) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let j = k, p = q; j < end; j++, p += stride) {
        const w = weights[j];
        r = (r + imul(data[p], w)) | 0;
        g = (g + imul(data[p + 1], w)) | 0;
        b = (b + imul(data[p + 2], w)) | 0;
      }
      r >>= PRECISION_BITS;
      g >>= PRECISION_BITS;
      b >>= PRECISION_BITS;
      out[offset + o] = red[r < 0 ? 0 : r > 255 ? 255 : r];
      out[g0 + o] = green[g < 0 ? 0 : g > 255 ? 255 : g];
      out[b0 + o] = blue[b < 0 ? 0 : b > 255 ? 255 : b];
      o++;
    }
  }
}
