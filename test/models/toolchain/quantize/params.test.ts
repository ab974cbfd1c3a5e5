import { describe, expect, it } from 'vitest';
import {
  accumulateHistogram,
  entropyRange,
  percentileRange,
} from '../../../../models/toolchain/quantize/calibration.js';
import {
  computeQuantParams,
  integerRange,
  quantizeBias,
  quantizeConstant,
  quantizeWeightPerChannel,
  roundHalfToEven,
} from '../../../../models/toolchain/quantize/params.js';

/** Deterministic standard-normal samples (mulberry32 + Box–Muller). */
function gaussian(count: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  return Float32Array.from(
    { length: count },
    () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()),
  );
}

describe('quantization arithmetic (ORT quant_utils conventions)', () => {
  it('rounds halves to even, like numpy and QuantizeLinear', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6, -2.6].map(roundHalfToEven)).toEqual([
      0, 2, 2, -0, -2, -2, 2, 3, -3,
    ]);
  });

  it('uint8 activations: range widened to include 0, zero point at −min/scale', () => {
    const p = computeQuantParams({ min: -1, max: 3 }, 'uint8');
    expect(p.scale).toBe(Math.fround(4 / 255));
    expect(p.zeroPoint).toBe(roundHalfToEven(1 / Math.fround(4 / 255)));
    // ReLU output: zero point at the integer minimum, which is what lets ORT drop the Relu.
    expect(computeQuantParams({ min: 0, max: 6 }, 'uint8').zeroPoint).toBe(0);
    expect(computeQuantParams({ min: 0.5, max: 6 }, 'int8').zeroPoint).toBe(-128);
    // A constant tensor gets scale 1 instead of 0.
    expect(computeQuantParams({ min: 0, max: 0 }, 'uint8')).toEqual({ type: 'uint8', scale: 1, zeroPoint: 0 });
  });

  it('rejects ranges it cannot represent', () => {
    expect(() => computeQuantParams({ min: Number.NaN, max: 1 }, 'uint8')).toThrow(/range/);
    expect(() => computeQuantParams({ min: 2, max: 1 }, 'uint8')).toThrow(/range/);
  });

  it('integer ranges: symmetric int8 is ±127, reduce-range is 7 bits', () => {
    expect(integerRange('int8', { symmetric: true })).toEqual({ qmin: -127, qmax: 127 });
    expect(integerRange('int8', { reduceRange: true })).toEqual({ qmin: -64, qmax: 64 });
    expect(integerRange('uint8')).toEqual({ qmin: 0, qmax: 255 });
  });

  it('per-channel weights: scale max|w_c|/127 per output channel, values round(w/scale)', () => {
    // Conv-like [3, 2, 1, 2]: 4 values per output channel; channel 2 all zero.
    const weights = Float32Array.from([0.5, -1.27, 0.01, 0.3, 2.54, 1, -1, 0, 0, 0, 0, 0]);
    const q = quantizeWeightPerChannel(weights, [3, 2, 1, 2], 0);
    expect(Array.from(q.scales)).toEqual([Math.fround(1.27 / 127), Math.fround(2.54 / 127), 1]);
    const expected = Array.from(weights, (w, i) =>
      Math.max(-127, Math.min(127, roundHalfToEven(w / q.scales[Math.floor(i / 4)]))),
    );
    expect(Array.from(q.values)).toEqual(expected);
    expect(q.values[1]).toBe(-127);
    // MatMul B [K=2, N=3] → per column (axis 1).
    const b = quantizeWeightPerChannel(Float32Array.from([1, -2, 4, -1, 0.5, 8]), [2, 3], 1);
    expect(Array.from(b.scales)).toEqual([1, 2, 8].map((m) => Math.fround(m / 127)));
  });

  it("'mse' weight scales never give more squared error than absmax scales", () => {
    const weights = gaussian(64 * 32, 7);
    weights[5] = 9; // an outlier in channel 0
    const error = (method: 'absmax' | 'mse') => {
      const q = quantizeWeightPerChannel(weights, [64, 32], 0, { scaleMethod: method });
      return weights.reduce((sum, w, i) => sum + (q.values[i] * q.scales[Math.floor(i / 32)] - w) ** 2, 0);
    };
    expect(error('mse')).toBeLessThanOrEqual(error('absmax'));
  });

  it('biases become int32 at scale inputScale · weightScale', () => {
    const { values, scales } = quantizeBias(Float32Array.from([0.1, -0.25]), 0.02, Float32Array.from([0.5, 0.01]));
    expect(Array.from(scales)).toEqual([Math.fround(0.02 * 0.5), Math.fround(0.02 * 0.01)]);
    expect(Array.from(values)).toEqual([roundHalfToEven(0.1 / scales[0]), roundHalfToEven(-0.25 / scales[1])]);
    expect(() => quantizeBias(Float32Array.from([1]), 1, Float32Array.from([1, 2]))).toThrow(/bias/);
  });

  it('constants fed to quantized Add/Mul are quantized per tensor in the activation type', () => {
    const { values, params } = quantizeConstant(Float32Array.from([-1, 0, 0.5, 3]), 'uint8');
    expect(params).toEqual(computeQuantParams({ min: -1, max: 3 }, 'uint8'));
    const errors = Array.from(values, (q, i) => Math.abs((q - params.zeroPoint) * params.scale - [-1, 0, 0.5, 3][i]));
    expect(Math.max(...errors)).toBeLessThanOrEqual(params.scale / 2 + 1e-7);
  });
});

describe('robust calibration ranges', () => {
  it('percentile cuts the same share from both tails', () => {
    // 10 000 evenly spread values in [0, 100): the 98 % range is [1, 99] to within one 0.1-wide bin.
    const values = Float32Array.from({ length: 10_000 }, (_, i) => i / 100);
    const counts = new Float64Array(1000);
    accumulateHistogram(counts, values, 0, 100);
    const range = percentileRange({ counts, low: 0, high: 100 }, 98);
    expect(range.min).toBeGreaterThanOrEqual(0.9 - 1e-9);
    expect(range.min).toBeLessThanOrEqual(1 + 1e-9);
    expect(range.max).toBeGreaterThanOrEqual(99 - 1e-9);
    expect(range.max).toBeLessThanOrEqual(99.1 + 1e-9);
    expect(() => percentileRange({ counts, low: 0, high: 100 }, 0)).toThrow(/percentile/);
  });

  it('entropy clips rare outliers of a Gaussian but keeps its bulk', () => {
    const values = gaussian(200_000, 3);
    values[0] = 40; // one far outlier sets the histogram range to ±40
    const counts = new Float64Array(512);
    accumulateHistogram(counts, values, -40, 40);
    const range = entropyRange({ counts, low: -40, high: 40 }, 128);
    expect(range.max).toBeLessThan(20);
    expect(range.max).toBeGreaterThan(3);
    // Symmetric window around the zero bin (one bin wider on the right, as ORT's).
    expect(Math.abs(range.min + range.max)).toBeLessThanOrEqual(80 / 512 + 1e-9);
  });
});
