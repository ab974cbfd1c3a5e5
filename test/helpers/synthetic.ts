/**
 * Deterministic "trained-looking" EfficientViT state dicts for variants without a fixture checkpoint: shapes from
 * models/efficientvit.ts, random weights, small gains at the end of every residual branch, and BatchNorm running
 * statistics estimated on real images by the float64 reference pass, so every layer sees unit-scale activations
 * and different images get different top-1 classes (as in the shared fixture checkpoints).
 */
import { attentionBiasIndices, efficientVitLayout, expectedParameters } from '../../models/efficientvit.js';
import type { StateDict, Tensor } from '../../models/state-dict.js';
import { seededRandom } from './random.js';
import { referenceForward, type FeatureMap } from '../../models/toolchain/reference.js';
import type { Variant } from '../../worker/core/manifest/manifest.js';

/** mulberry32 with Box–Muller normals (test/helpers/random.ts), re-exported for callers of this module. */
export { seededRandom };

export interface SyntheticOptions {
  seed: number;
  /** Images the BatchNorm statistics are estimated on, NCHW float32 [batch, 3, 224, 224]. */
  calibration: { data: Float32Array; batch: number };
}

/** BatchNorms that end a residual branch (the official code initialises most of them to 0). */
function residualBranchEnds(variant: Variant): Set<string> {
  const ends = new Set<string>();
  for (const layer of efficientVitLayout(variant).layers) {
    if (layer.kind === 'residual-dw') ends.add(`${layer.conv.prefix}.bn`);
    if (layer.kind === 'residual-ffn') ends.add(`${layer.pw2.prefix}.bn`);
    if (layer.kind === 'residual-attention') ends.add(`${layer.proj.prefix}.bn`);
  }
  return ends;
}

export function syntheticStateDict(variant: Variant, options: SyntheticOptions): StateDict {
  const { uniform, normal } = seededRandom(options.seed);
  const branchEnds = residualBranchEnds(variant);
  const sd: StateDict = new Map();
  const put = (name: string, shape: number[], value: (i: number) => number) => {
    const count = shape.reduce((a, b) => a * b, 1);
    sd.set(name, { dtype: 'float32', shape, data: Float32Array.from({ length: count }, (_, i) => value(i)) });
  };
  for (const spec of expectedParameters(variant)) {
    const { name, shape } = spec;
    if (name.endsWith('num_batches_tracked')) continue;
    if (name.endsWith('attention_bias_idxs')) {
      const idxs = attentionBiasIndices(Math.round(Math.sqrt(shape[0])));
      sd.set(name, { dtype: 'int64', shape, data: BigInt64Array.from(idxs, (v) => BigInt(v)) } satisfies Tensor);
      continue;
    }
    const bn = name.slice(0, name.lastIndexOf('.'));
    const isBranchEnd = branchEnds.has(bn);
    if (name.endsWith('.bn.weight'))
      put(name, shape, () => (isBranchEnd ? 0.05 + 0.2 * uniform() : 0.7 + 0.6 * uniform()));
    else if (name.endsWith('.bn.bias')) put(name, shape, () => (isBranchEnd ? 0.02 : 0.1) * normal());
    else if (name.endsWith('running_mean'))
      put(name, shape, () => 0); // estimated below
    else if (name.endsWith('running_var'))
      put(name, shape, () => 1); // estimated below
    else if (name.endsWith('attention_biases')) put(name, shape, () => 0.5 * normal());
    else if (name === 'head.l.weight') put(name, shape, () => (2 / Math.sqrt(shape[1])) * normal());
    else if (name.endsWith('.bias')) put(name, shape, () => 0.1 * normal());
    else {
      // conv / fc weights: He-style scale over the fan-in
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      put(name, shape, () => Math.sqrt(2 / fanIn) * normal());
    }
  }
  const { data, batch } = options.calibration;
  // The pass reads a validated copy of `sd`: the statistics go into both.
  referenceForward(sd, variant, data, batch, {
    beforeBatchNorm: (prefix, inputs, passDict) => {
      for (const [name, tensor] of runningStatistics(prefix, inputs)) {
        sd.set(name, tensor);
        passDict.set(name, tensor);
      }
    },
  });
  return sd;
}

/**
 * Sets a BatchNorm's running mean/variance to the statistics of its input over images and positions. The head's
 * BatchNorm1d sees one value per image, too few for a variance, so its variance is pooled over its channels.
 */
function runningStatistics(prefix: string, inputs: readonly FeatureMap[]): [string, Tensor][] {
  const channels = inputs[0].channels;
  const mean = new Float32Array(channels);
  const variance = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    let sumSquares = 0;
    let count = 0;
    for (const m of inputs) {
      const size = m.height * m.width;
      for (let i = c * size; i < (c + 1) * size; i++) {
        sum += m.data[i];
        sumSquares += m.data[i] * m.data[i];
        count++;
      }
    }
    mean[c] = sum / count;
    variance[c] = Math.max(sumSquares / count - mean[c] * mean[c], 0);
  }
  if (inputs[0].height * inputs[0].width === 1) {
    const pooled = variance.reduce((a, b) => a + b, 0) / channels;
    variance.fill(Math.max(pooled, 1e-6));
  }
  return [
    [`${prefix}.running_mean`, { dtype: 'float32', shape: [channels], data: mean }],
    [`${prefix}.running_var`, { dtype: 'float32', shape: [channels], data: variance }],
  ];
}
