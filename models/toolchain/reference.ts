/**
 * A slow, plain float64 forward pass of the official EfficientViT eval computation (microsoft/Cream
 * `model/efficientvit.py`): unfused BatchNorm, per-head loops, window partition with zero padding, the bias table
 * gathered from recomputed offsets. It exists to check exported graphs against; it shares only the layer list
 * (models/efficientvit.ts) with the exporters, none of their algebra.
 */
import {
  attentionBiasIndices,
  BATCH_NORM_EPS,
  efficientVitLayout,
  validateStateDict,
  type ConvBnSpec,
  type PatchMergingLayer,
  type ResidualAttentionLayer,
} from '../efficientvit.js';
import type { StateDict } from '../state-dict.js';
import type { Variant } from '../../worker/core/manifest/manifest.js';

/** One image's activations, [channels, height, width] row-major. */
export interface FeatureMap {
  channels: number;
  height: number;
  width: number;
  data: Float64Array;
}

export interface ReferenceOptions {
  /**
   * Called with the input of every BatchNorm (all images of the batch) before it is applied, with the state dict
   * the pass reads from; the BatchNorm's parameters are read afterwards. Lets a caller estimate running statistics.
   */
  beforeBatchNorm?: (prefix: string, inputs: readonly FeatureMap[], stateDict: StateDict) => void;
}

/**
 * Logits [batch, classes] for NCHW float input [batch, 3, size, size]. `stateDict` is validated (and 1×1 weights
 * normalized) first; with `beforeBatchNorm` the normalized copy is what the hook sees and may change.
 */
export function referenceForward(
  stateDict: StateDict,
  variant: Variant,
  input: Float32Array | Float64Array,
  batch: number,
  options: ReferenceOptions = {},
): Float64Array {
  return referenceOutputs(stateDict, variant, input, batch, options).logits;
}

/**
 * Logits [batch, classes] and the pooled features [batch, C] the head reads (global average pool of the last stage,
 * before the head's BatchNorm: the exports' `embedding` output, unnormalised).
 */
export function referenceOutputs(
  stateDict: StateDict,
  variant: Variant,
  input: Float32Array | Float64Array,
  batch: number,
  options: ReferenceOptions = {},
): { logits: Float64Array; embedding: Float64Array } {
  const sd = validateStateDict(stateDict, variant);
  const layout = efficientVitLayout(variant);
  const { inChannels, imageSize } = layout.config;
  const plane = inChannels * imageSize * imageSize;
  if (input.length !== batch * plane)
    throw new Error(`input has ${input.length} values, expected ${batch}×${inChannels}×${imageSize}×${imageSize}`);
  const ctx: Context = { sd, hook: options.beforeBatchNorm };

  let x: FeatureMap[] = Array.from({ length: batch }, (_, b) => ({
    channels: inChannels,
    height: imageSize,
    width: imageSize,
    data: Float64Array.from(input.subarray(b * plane, (b + 1) * plane)),
  }));
  layout.patchEmbed.forEach((spec, i) => {
    x = convBn(ctx, x, spec);
    if (i < layout.patchEmbed.length - 1) x = x.map(relu);
  });
  for (const layer of layout.layers) {
    switch (layer.kind) {
      case 'residual-dw':
        x = add(x, convBn(ctx, x, layer.conv));
        break;
      case 'residual-ffn':
        x = add(x, convBn(ctx, convBn(ctx, x, layer.pw1).map(relu), layer.pw2));
        break;
      case 'residual-attention':
        x = add(x, localWindowAttention(ctx, layer, x));
        break;
      case 'patch-merging':
        x = patchMerging(ctx, layer, x);
        break;
    }
  }
  // adaptive_avg_pool2d(x, 1).flatten(1) → BN_Linear
  const { head } = layout;
  const pooled = x.map((m) => ({ channels: m.channels, height: 1, width: 1, data: channelMeans(m) }));
  const normalized = batchNorm(ctx, pooled, `${head.prefix}.bn`);
  const weight = values(sd, `${head.prefix}.l.weight`);
  const bias = values(sd, `${head.prefix}.l.bias`);
  const logits = new Float64Array(batch * head.numClasses);
  const embedding = new Float64Array(batch * head.inFeatures);
  pooled.forEach((features, b) => embedding.set(features.data, b * head.inFeatures));
  normalized.forEach((features, b) => {
    for (let o = 0; o < head.numClasses; o++) {
      let sum = bias[o];
      for (let i = 0; i < head.inFeatures; i++) sum += weight[o * head.inFeatures + i] * features.data[i];
      logits[b * head.numClasses + o] = sum;
    }
  });
  return { logits, embedding };
}

interface Context {
  sd: StateDict;
  hook?: ReferenceOptions['beforeBatchNorm'];
}

function values(sd: StateDict, name: string): Float64Array {
  const tensor = sd.get(name);
  if (!tensor) throw new Error(`state dict has no tensor '${name}'`);
  return Float64Array.from(tensor.data as ArrayLike<number>);
}

function featureMap(channels: number, height: number, width: number): FeatureMap {
  return { channels, height, width, data: new Float64Array(channels * height * width) };
}

/** torch.nn.Conv2d (zero padding, groups), optional bias. */
export function conv2d(
  x: FeatureMap,
  weight: Float64Array,
  outChannels: number,
  kernel: number,
  stride: number,
  padding: number,
  groups: number,
  bias?: Float64Array,
): FeatureMap {
  const outH = Math.floor((x.height + 2 * padding - kernel) / stride) + 1;
  const outW = Math.floor((x.width + 2 * padding - kernel) / stride) + 1;
  const y = featureMap(outChannels, outH, outW);
  const inPerGroup = x.channels / groups;
  const outPerGroup = outChannels / groups;
  const inSize = x.height * x.width;
  const outSize = outH * outW;
  const src = x.data;
  const dst = y.data;
  for (let o = 0; o < outChannels; o++) {
    const outBase = o * outSize;
    if (bias) dst.fill(bias[o], outBase, outBase + outSize);
    const firstIn = Math.floor(o / outPerGroup) * inPerGroup;
    for (let ci = 0; ci < inPerGroup; ci++) {
      const inBase = (firstIn + ci) * inSize;
      if (kernel === 1 && stride === 1 && padding === 0) {
        const w = weight[o * inPerGroup + ci];
        for (let i = 0; i < outSize; i++) dst[outBase + i] += w * src[inBase + i];
        continue;
      }
      for (let ky = 0; ky < kernel; ky++) {
        for (let kx = 0; kx < kernel; kx++) {
          const w = weight[((o * inPerGroup + ci) * kernel + ky) * kernel + kx];
          // Output columns whose input column lies inside the image (the rest read zero padding).
          const oxFirst = Math.max(0, Math.ceil((padding - kx) / stride));
          const oxEnd = Math.min(outW, Math.floor((x.width - 1 + padding - kx) / stride) + 1);
          for (let oy = 0; oy < outH; oy++) {
            const iy = oy * stride - padding + ky;
            if (iy < 0 || iy >= x.height) continue;
            const row = inBase + iy * x.width - padding + kx;
            const outRow = outBase + oy * outW;
            for (let ox = oxFirst; ox < oxEnd; ox++) dst[outRow + ox] += w * src[row + ox * stride];
          }
        }
      }
    }
  }
  return y;
}

/** Eval-mode BatchNorm (running statistics), applied to a copy. */
function batchNorm(ctx: Context, x: FeatureMap[], prefix: string): FeatureMap[] {
  ctx.hook?.(prefix, x, ctx.sd);
  const gamma = values(ctx.sd, `${prefix}.weight`);
  const beta = values(ctx.sd, `${prefix}.bias`);
  const mean = values(ctx.sd, `${prefix}.running_mean`);
  const variance = values(ctx.sd, `${prefix}.running_var`);
  return x.map((m) => {
    const y = featureMap(m.channels, m.height, m.width);
    const size = m.height * m.width;
    for (let c = 0; c < m.channels; c++) {
      const inv = 1 / Math.sqrt(variance[c] + BATCH_NORM_EPS);
      for (let i = c * size; i < (c + 1) * size; i++) y.data[i] = (m.data[i] - mean[c]) * inv * gamma[c] + beta[c];
    }
    return y;
  });
}

function convBn(ctx: Context, x: FeatureMap[], spec: ConvBnSpec): FeatureMap[] {
  const weight = values(ctx.sd, `${spec.prefix}.c.weight`);
  const convolved = x.map((m) =>
    conv2d(m, weight, spec.outChannels, spec.kernel, spec.stride, spec.padding, spec.groups),
  );
  return batchNorm(ctx, convolved, `${spec.prefix}.bn`);
}

function relu(m: FeatureMap): FeatureMap {
  return { ...m, data: m.data.map((v) => (v > 0 ? v : 0)) };
}

function add(a: FeatureMap[], b: FeatureMap[]): FeatureMap[] {
  return a.map((m, i) => ({ ...m, data: m.data.map((v, j) => v + b[i].data[j]) }));
}

function channelMeans(m: FeatureMap): Float64Array {
  const size = m.height * m.width;
  const means = new Float64Array(m.channels);
  for (let c = 0; c < m.channels; c++) {
    let sum = 0;
    for (let i = c * size; i < (c + 1) * size; i++) sum += m.data[i];
    means[c] = sum / size;
  }
  return means;
}

function patchMerging(ctx: Context, layer: PatchMergingLayer, x: FeatureMap[]): FeatureMap[] {
  let h = convBn(ctx, x, layer.conv1).map(relu);
  h = convBn(ctx, h, layer.conv2).map(relu);
  // timm SqueezeExcite: x · sigmoid(fc2(relu(fc1(mean_hw(x)))))
  const { se } = layer;
  const w1 = values(ctx.sd, `${se.prefix}.fc1.weight`);
  const b1 = values(ctx.sd, `${se.prefix}.fc1.bias`);
  const w2 = values(ctx.sd, `${se.prefix}.fc2.weight`);
  const b2 = values(ctx.sd, `${se.prefix}.fc2.bias`);
  h = h.map((m) => {
    const pooled = { channels: m.channels, height: 1, width: 1, data: channelMeans(m) };
    const squeezed = relu(conv2d(pooled, w1, se.reducedChannels, 1, 1, 0, 1, b1));
    const gate = conv2d(squeezed, w2, se.channels, 1, 1, 0, 1, b2).data.map((v) => 1 / (1 + Math.exp(-v)));
    const size = m.height * m.width;
    return { ...m, data: m.data.map((v, i) => v * gate[Math.floor(i / size)]) };
  });
  return convBn(ctx, h, layer.conv3);
}

/** LocalWindowAttention.forward: whole map if it fits a window, else zero-pad bottom/right and partition. */
function localWindowAttention(ctx: Context, layer: ResidualAttentionLayer, x: FeatureMap[]): FeatureMap[] {
  const { resolution: r, windowResolution: w, channels: c } = layer;
  if (r <= w) return cascadedGroupAttention(ctx, layer, x);
  const padded = Math.ceil(r / w) * w;
  const n = padded / w;
  // Windows of all images, image-major then row-major over windows (the order only matters for BN hooks).
  const windows: FeatureMap[] = [];
  for (const m of x) {
    for (let wy = 0; wy < n; wy++) {
      for (let wx = 0; wx < n; wx++) {
        const win = featureMap(c, w, w);
        for (let ch = 0; ch < c; ch++) {
          for (let y = 0; y < w; y++) {
            for (let xx = 0; xx < w; xx++) {
              const sy = wy * w + y;
              const sx = wx * w + xx;
              if (sy < r && sx < r) win.data[(ch * w + y) * w + xx] = m.data[(ch * r + sy) * r + sx];
            }
          }
        }
        windows.push(win);
      }
    }
  }
  const attended = cascadedGroupAttention(ctx, layer, windows);
  return x.map((_, b) => {
    const out = featureMap(c, r, r);
    for (let wy = 0; wy < n; wy++) {
      for (let wx = 0; wx < n; wx++) {
        const win = attended[b * n * n + wy * n + wx];
        for (let ch = 0; ch < c; ch++) {
          for (let y = 0; y < w; y++) {
            for (let xx = 0; xx < w; xx++) {
              const sy = wy * w + y;
              const sx = wx * w + xx;
              if (sy < r && sx < r) out.data[(ch * r + sy) * r + sx] = win.data[(ch * w + y) * w + xx];
            }
          }
        }
      }
    }
    return out;
  });
}

/** CascadedGroupAttention.forward on square maps of side `attentionResolution`. */
function cascadedGroupAttention(ctx: Context, layer: ResidualAttentionLayer, x: FeatureMap[]): FeatureMap[] {
  const { heads, keyDim, valueDim, attentionResolution: side, channels } = layer;
  const tokens = side * side;
  const chunk = channels / heads;
  const biases = values(ctx.sd, `${layer.prefix}.attention_biases`);
  const idxs = attentionBiasIndices(side);
  const headOutputs: FeatureMap[][] = [];
  let feat: FeatureMap[] = x.map((m) => ({
    channels: chunk,
    height: side,
    width: side,
    data: m.data.slice(0, chunk * tokens),
  }));
  for (let i = 0; i < heads; i++) {
    if (i > 0) {
      const previous = feat;
      feat = x.map((m, b) => ({
        channels: chunk,
        height: side,
        width: side,
        data: m.data.slice(i * chunk * tokens, (i + 1) * chunk * tokens).map((v, j) => v + previous[b].data[j]),
      }));
    }
    const qkv = convBn(ctx, feat, layer.qkvs[i]);
    const q = convBn(
      ctx,
      qkv.map((m) => ({ channels: keyDim, height: side, width: side, data: m.data.slice(0, keyDim * tokens) })),
      layer.dws[i],
    );
    feat = qkv.map((m, b) => {
      const k = m.data.subarray(keyDim * tokens, 2 * keyDim * tokens);
      const v = m.data.subarray(2 * keyDim * tokens, (2 * keyDim + valueDim) * tokens);
      const out = featureMap(valueDim, side, side);
      const row = new Float64Array(tokens);
      for (let p = 0; p < tokens; p++) {
        let max = -Infinity;
        for (let p2 = 0; p2 < tokens; p2++) {
          let dot = 0;
          for (let ch = 0; ch < keyDim; ch++) dot += q[b].data[ch * tokens + p] * k[ch * tokens + p2];
          row[p2] = dot * layer.scale + biases[i * layer.biasOffsets + idxs[p * tokens + p2]];
          max = Math.max(max, row[p2]);
        }
        let sum = 0;
        for (let p2 = 0; p2 < tokens; p2++) sum += row[p2] = Math.exp(row[p2] - max);
        for (let d = 0; d < valueDim; d++) {
          let acc = 0;
          for (let p2 = 0; p2 < tokens; p2++) acc += v[d * tokens + p2] * row[p2];
          out.data[d * tokens + p] = acc / sum;
        }
      }
      return out;
    });
    headOutputs.push(feat);
  }
  const concatenated = x.map((_, b) => {
    const data = new Float64Array(heads * valueDim * tokens);
    headOutputs.forEach((outs, i) => data.set(outs[b].data, i * valueDim * tokens));
    return relu({ channels: heads * valueDim, height: side, width: side, data });
  });
  return convBn(ctx, concatenated, layer.proj);
}
