/**
 * BatchNorm folding, in float64 (the exporters round to float32 once, when writing initializers).
 * Same algebra as the official Conv2d_BN.fuse / BN_Linear.fuse.
 */
import { BATCH_NORM_EPS, type ConvBnSpec } from '../../efficientvit.js';
import type { StateDict } from '../../state-dict.js';

/** A tensor of a validated state dict as float64. */
export function float64(stateDict: StateDict, name: string): Float64Array {
  const tensor = stateDict.get(name);
  if (!tensor) throw new Error(`state dict has no tensor '${name}' (validate it first)`);
  return Float64Array.from(tensor.data as ArrayLike<number>);
}

/** Eval BatchNorm as y = x · scale + shift, per channel. */
export function batchNormAffine(stateDict: StateDict, prefix: string): { scale: Float64Array; shift: Float64Array } {
  const gamma = float64(stateDict, `${prefix}.weight`);
  const beta = float64(stateDict, `${prefix}.bias`);
  const mean = float64(stateDict, `${prefix}.running_mean`);
  const variance = float64(stateDict, `${prefix}.running_var`);
  const scale = gamma.map((g, c) => g / Math.sqrt(variance[c] + BATCH_NORM_EPS));
  const shift = beta.map((b, c) => b - mean[c] * scale[c]);
  return { scale, shift };
}

/** A convolution with bias: weight [out, in/groups, k, k] row-major. */
export interface FoldedConv {
  spec: ConvBnSpec;
  weight: Float64Array;
  bias: Float64Array;
  dims: [number, number, number, number];
}

export function foldConvBn(stateDict: StateDict, spec: ConvBnSpec): FoldedConv {
  const weight = float64(stateDict, `${spec.prefix}.c.weight`);
  const { scale, shift } = batchNormAffine(stateDict, `${spec.prefix}.bn`);
  const perOut = weight.length / spec.outChannels;
  for (let o = 0; o < spec.outChannels; o++) for (let j = 0; j < perOut; j++) weight[o * perOut + j] *= scale[o];
  return {
    spec,
    weight,
    bias: shift,
    dims: [spec.outChannels, spec.inChannels / spec.groups, spec.kernel, spec.kernel],
  };
}

/** A plain 1×1 conv with bias (squeeze-excite fc1/fc2), in the same shape as a folded one. */
export function plainConv(stateDict: StateDict, prefix: string, inChannels: number, outChannels: number): FoldedConv {
  return {
    spec: { prefix, inChannels, outChannels, kernel: 1, stride: 1, padding: 0, groups: 1 },
    weight: float64(stateDict, `${prefix}.weight`),
    bias: float64(stateDict, `${prefix}.bias`),
    dims: [outChannels, inChannels, 1, 1],
  };
}

/** BN_Linear.fuse: Linear(BN1d(x)) as one Linear, weight [out, in] row-major. */
export function foldBnLinear(
  stateDict: StateDict,
  prefix: string,
): { weight: Float64Array; bias: Float64Array; dims: [number, number] } {
  const { scale, shift } = batchNormAffine(stateDict, `${prefix}.bn`);
  const weight = float64(stateDict, `${prefix}.l.weight`);
  const bias = float64(stateDict, `${prefix}.l.bias`);
  const inFeatures = scale.length;
  const outFeatures = bias.length;
  for (let o = 0; o < outFeatures; o++) {
    let extra = 0;
    for (let i = 0; i < inFeatures; i++) {
      extra += weight[o * inFeatures + i] * shift[i];
      weight[o * inFeatures + i] *= scale[i];
    }
    bias[o] += extra;
  }
  return { weight, bias, dims: [outFeatures, inFeatures] };
}
