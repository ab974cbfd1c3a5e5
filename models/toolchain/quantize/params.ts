/**
 * Quantization arithmetic, following onnxruntime's Python quantizer (`onnxruntime/quantization/quant_utils.py`:
 * `get_qmin_qmax_for_qType`, `compute_scale_zp`, `quantize_data`) so that graphs built here carry the parameters
 * ORT's own tool would write for the same ranges. Rounding is half-to-even, as numpy's and QuantizeLinear's.
 */
import type { QuantizedElementType } from './tensors.js';

export interface Range {
  min: number;
  max: number;
}

export interface QuantParams {
  type: QuantizedElementType;
  /** float32-representable */
  scale: number;
  zeroPoint: number;
}

export interface IntegerRangeOptions {
  /** Symmetric range (−127…127 for int8): weights. */
  symmetric?: boolean;
  /** 7-bit range, for x86 AVX2 U8S8 kernels that saturate 16-bit pair sums (ORT's `reduce_range`). */
  reduceRange?: boolean;
}

/** The integer interval a tensor of `type` is quantized into. */
export function integerRange(
  type: QuantizedElementType,
  options: IntegerRangeOptions = {},
): { qmin: number; qmax: number } {
  if (type === 'int8') {
    if (options.reduceRange) return { qmin: -64, qmax: 64 };
    return options.symmetric ? { qmin: -127, qmax: 127 } : { qmin: -128, qmax: 127 };
  }
  return options.reduceRange ? { qmin: 0, qmax: 127 } : { qmin: 0, qmax: 255 };
}

/** numpy.round: half to even. */
export function roundHalfToEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const FLOAT32_TINY = 1.1754943508222875e-38;

/**
 * Scale and zero point for a real range, as ORT's compute_scale_zp: the range is widened to contain 0 (so 0 is
 * exact, which padding and ReLU need); symmetric ranges centre the zero point.
 */
export function computeQuantParams(
  range: Range,
  type: QuantizedElementType,
  options: IntegerRangeOptions = {},
): QuantParams {
  if (!Number.isFinite(range.min) || !Number.isFinite(range.max) || range.min > range.max) {
    throw new Error(`cannot quantize the range [${range.min}, ${range.max}]`);
  }
  const { qmin, qmax } = integerRange(type, options);
  let rmin = Math.min(range.min, 0);
  let rmax = Math.max(range.max, 0);
  if (options.symmetric) {
    const absMax = Math.max(Math.abs(rmin), Math.abs(rmax));
    rmin = -absMax;
    rmax = absMax;
  }
  const scale = Math.fround((rmax - rmin) / (qmax - qmin));
  if (scale < FLOAT32_TINY) return { type, scale: 1, zeroPoint: 0 };
  const zeroPoint = options.symmetric ? roundHalfToEven((qmin + qmax) / 2) : roundHalfToEven(qmin - rmin / scale);
  return { type, scale, zeroPoint: Math.min(qmax, Math.max(qmin, zeroPoint)) };
}

/** QuantizeLinear on one value. */
export function quantizeValue(x: number, params: QuantParams, qmin: number, qmax: number): number {
  return Math.min(qmax, Math.max(qmin, roundHalfToEven(x / params.scale) + params.zeroPoint));
}

export interface PerChannelQuantized {
  values: Int8Array;
  /** One float32 scale per channel; zero points are all 0 (symmetric). */
  scales: Float32Array;
  axis: number;
}

/**
 * How a weight channel's scale is chosen: 'absmax' (ORT's choice) maps max|w| to 127; 'mse' tries clipping at
 * 50…100 % of max|w| and keeps the scale with the least squared rounding + clipping error — it trades a few
 * clipped outliers for finer steps everywhere else.
 */
export type WeightScaleMethod = 'absmax' | 'mse';

const MSE_CLIP_STEPS = 50;

function mseScale(values: Float32Array, absMax: number, qmax: number): number {
  let best = { error: Infinity, scale: Math.fround(absMax / qmax) };
  for (let step = 0; step <= MSE_CLIP_STEPS; step++) {
    const scale = Math.fround((absMax * (1 - step / (2 * MSE_CLIP_STEPS))) / qmax);
    if (!(scale > 0)) break;
    let error = 0;
    for (const v of values) {
      const q = Math.min(qmax, Math.max(-qmax, roundHalfToEven(v / scale)));
      error += (q * scale - v) ** 2;
    }
    if (error < best.error) best = { error, scale };
  }
  return best.scale;
}

/**
 * Symmetric per-channel int8 weights: channel c along `axis` gets zero point 0 and scale max|w_c| / 127 (or /64
 * with reduceRange; ORT's quantize_weight_per_channel for QDQ), or the least-error clipped scale with 'mse'.
 */
export function quantizeWeightPerChannel(
  weights: Float32Array,
  dims: readonly number[],
  axis: number,
  options: { reduceRange?: boolean; scaleMethod?: WeightScaleMethod } = {},
): PerChannelQuantized {
  if (axis < 0 || axis >= dims.length) throw new Error(`axis ${axis} out of range for dims [${dims.join(', ')}]`);
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((n, d) => n * d, 1);
  const outer = weights.length / (channels * inner);
  const { qmin, qmax } = integerRange('int8', { symmetric: true, reduceRange: options.reduceRange });
  const absMax = new Float64Array(channels);
  forEachByChannel(outer, channels, inner, (index, c) => {
    absMax[c] = Math.max(absMax[c], Math.abs(weights[index]));
  });
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    scales[c] = computeQuantParams({ min: -absMax[c], max: absMax[c] }, 'int8', {
      symmetric: true,
      reduceRange: options.reduceRange,
    }).scale;
  }
  if (options.scaleMethod === 'mse') {
    const perChannel = Array.from({ length: channels }, () => new Float32Array(outer * inner));
    const filled = new Int32Array(channels);
    forEachByChannel(outer, channels, inner, (index, c) => {
      perChannel[c][filled[c]++] = weights[index];
    });
    for (let c = 0; c < channels; c++) if (absMax[c] > 0) scales[c] = mseScale(perChannel[c], absMax[c], qmax);
  }
  const values = new Int8Array(weights.length);
  forEachByChannel(outer, channels, inner, (index, c) => {
    values[index] = Math.min(qmax, Math.max(qmin, roundHalfToEven(weights[index] / scales[c])));
  });
  return { values, scales, axis };
}

/** Visits every flat index of a tensor laid out [outer, channels, inner] with its channel. */
function forEachByChannel(
  outer: number,
  channels: number,
  inner: number,
  visit: (index: number, channel: number) => void,
): void {
  let index = 0;
  for (let o = 0; o < outer; o++) for (let c = 0; c < channels; c++) for (let i = 0; i < inner; i++) visit(index++, c);
}

/** Per-tensor asymmetric quantization of a constant (e.g. an Add's bias table fed to a quantized Add). */
export function quantizeConstant(
  values: Float32Array,
  type: QuantizedElementType,
): { values: Int32Array; params: QuantParams } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const params = computeQuantParams({ min, max }, type);
  const { qmin, qmax } = integerRange(type);
  return { values: Int32Array.from(values, (v) => quantizeValue(v, params, qmin, qmax)), params };
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/**
 * Conv/Gemm bias as int32 with scale inputScale · weightScale[c] and zero point 0 — the layout QLinearConv and
 * QGemm consume. Returns the integer values and the float32 scales the DequantizeLinear carries.
 */
export function quantizeBias(
  bias: Float32Array,
  inputScale: number,
  weightScales: Float32Array,
): { values: Int32Array; scales: Float32Array } {
  if (bias.length !== weightScales.length)
    throw new Error(`bias has ${bias.length} values for ${weightScales.length} weight channels`);
  const scales = Float32Array.from(weightScales, (s) => Math.fround(inputScale * s));
  const values = Int32Array.from(bias, (b, c) => {
    const q = scales[c] > 0 ? roundHalfToEven(b / scales[c]) : 0;
    return Math.min(INT32_MAX, Math.max(INT32_MIN, q));
  });
  return { values, scales };
}
