/**
 * int8 quantization of exported fp32 ONNX graphs, in TypeScript (no Python, no onnxruntime tooling).
 * `quantizeModel` applies a recipe; the default, EDGE_RECIPE, is the one chosen by measurement
 * (docs/quantization.md): weight-only int8. In the wasm build static int8 was no faster than fp32 for M0 and
 * ≤ 1.1× for M1, at three times the logit error; weight-only int8 keeps fp32 speed and near-fp32 outputs in a
 * file 3.7× smaller.
 */
import type { CalibrationOptions, CalibrationSample } from './calibration.js';
import { isDenseSpatialConv, isPointwiseConv } from './plan.js';
import { quantizeStatic, type StaticQuantizationOptions } from './qdq.js';
import { quantizeWeightsOnly, type WeightOnlyOptions } from './weight-only.js';

export interface StaticRecipe extends StaticQuantizationOptions {
  method: 'static-qdq';
  calibration?: CalibrationOptions;
  /** Afterwards, store the weights the static pass left in float as weight-only int8. */
  weightOnlyRest?: WeightOnlyOptions;
}

export type QuantizeOptions = ({ method: 'weight-only' } & WeightOnlyOptions) | StaticRecipe;

/**
 * The edge format: per-channel int8 weights (and int8 attention-bias tables), stored as Cast + Mul so that
 * onnxruntime folds them back to float when the session is created.
 */
export const EDGE_RECIPE: QuantizeOptions = Object.freeze({
  method: 'weight-only',
  encoding: 'cast-mul',
  tablesMinElements: 256,
});

/**
 * Static recipes use 7-bit weights (ORT's reduce_range): with full-range int8 weights onnxruntime-node's x86 AVX2
 * U8S8 kernels saturate 16-bit pair sums and the outputs fall apart (measured, docs/quantization.md).
 */
const STATIC_BASE = { method: 'static-qdq', reduceRange: true } as const;

/** Every recipe the measurement compares, by name. */
export const RECIPES: Readonly<Record<string, { description: string; options: QuantizeOptions }>> = Object.freeze({
  'weight-only-dq': {
    description: 'weight-only int8, DequantizeLinear encoding',
    options: { method: 'weight-only', encoding: 'dequantize-linear', tablesMinElements: 256 },
  },
  'weight-only-castmul': { description: 'weight-only int8, Cast+Mul encoding (EDGE_RECIPE)', options: EDGE_RECIPE },
  'qdq-ort-defaults': {
    description: 'static QDQ, all ops, MinMax, uint8 act., full-range weights (ORT quantize_static defaults)',
    options: { method: 'static-qdq' },
  },
  'qdq-minmax': { description: 'static QDQ, all ops, MinMax, 7-bit weights', options: { ...STATIC_BASE } },
  'qdq-int8-act': {
    description: 'static QDQ, all ops, MinMax, int8 activations, 7-bit weights',
    options: { ...STATIC_BASE, activationType: 'int8' },
  },
  'qdq-percentile': {
    description: 'static QDQ, all ops, percentile 99.999, 7-bit weights',
    options: { ...STATIC_BASE, calibration: { method: 'percentile' } },
  },
  'qdq-entropy': {
    description: 'static QDQ, all ops, entropy, 7-bit weights',
    options: { ...STATIC_BASE, calibration: { method: 'entropy' } },
  },
  'qdq-sparing': {
    description: 'static QDQ, percentile; softmax, attention-bias add, residual adds, first conv, head in float',
    options: {
      ...STATIC_BASE,
      calibration: { method: 'percentile' },
      keepFloat: { softmax: true, attentionBiasAdd: true, residualAdd: true, firstConv: true, head: true },
      weightOnlyRest: { encoding: 'cast-mul', tablesMinElements: 256 },
    },
  },
  'qdq-convs-only': {
    description: 'static QDQ on Conv only (activations around convs), percentile, rest weight-only',
    options: {
      ...STATIC_BASE,
      ops: ['Conv'],
      calibration: { method: 'percentile' },
      weightOnlyRest: { encoding: 'cast-mul', tablesMinElements: 256 },
    },
  },
  'qdq-pointwise': {
    description: 'static QDQ on the 1×1 convs only, percentile, rest weight-only',
    options: {
      ...STATIC_BASE,
      select: isPointwiseConv,
      calibration: { method: 'percentile' },
      weightOnlyRest: { encoding: 'cast-mul', tablesMinElements: 256 },
    },
  },
  'qdq-patch-embed': {
    description: 'static QDQ on the dense 3×3 convs (patch embedding) only, percentile, rest weight-only',
    options: {
      ...STATIC_BASE,
      select: isDenseSpatialConv,
      calibration: { method: 'percentile' },
      weightOnlyRest: { encoding: 'cast-mul', tablesMinElements: 256 },
    },
  },
});

/**
 * fp32 ONNX bytes → quantized ONNX bytes. `calibration` holds preprocessed real images (never the images the
 * result is evaluated on); the weight-only recipes do not read it.
 */
export async function quantizeModel(
  fp32Onnx: Uint8Array,
  calibration: readonly CalibrationSample[],
  options: QuantizeOptions = EDGE_RECIPE,
): Promise<Uint8Array> {
  if (options.method === 'weight-only') return quantizeWeightsOnly(fp32Onnx, options);
  const { model } = await quantizeStatic(fp32Onnx, calibration, options);
  return options.weightOnlyRest ? quantizeWeightsOnly(model, options.weightOnlyRest) : model;
}

export {
  calibrateRanges,
  preprocessImageFiles,
  splitCalibrationSet,
  type CalibrationMethod,
  type CalibrationOptions,
  type CalibrationSample,
} from './calibration.js';
export { computeQuantParams, quantizeWeightPerChannel, type QuantParams, type Range } from './params.js';
export { isDenseSpatialConv, isPointwiseConv, planStaticQuantization, type KeepFloat, type QdqPlan } from './plan.js';
export {
  applyStaticQuantization,
  quantizeStatic,
  type StaticQuantizationOptions,
  type StaticQuantizationResult,
} from './qdq.js';
export { QuantizeError } from './errors.js';
export { simulateQuantization } from './simulate.js';
export { quantizeWeightsOnly, type WeightEncoding, type WeightOnlyOptions } from './weight-only.js';
