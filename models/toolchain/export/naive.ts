/**
 * The baseline graph: a direct translation of the official PyTorch eval forward, node for node what
 * torch.onnx.export emits with BatchNorm2d folded into the convolutions (minus its shape-computing subgraphs:
 * shapes here are constants with a -1 batch) — per-head chains, window partition by Reshape/Transpose, Q·Kᵀ by
 * Transpose + MatMul, residual Adds, and the head's BatchNorm1d kept as its own node.
 */
import {
  attentionBiasIndices,
  BATCH_NORM_EPS,
  type EfficientVitLayout,
  type PatchMergingLayer,
  type ResidualAttentionLayer,
} from '../../efficientvit.js';
import type { StateDict } from '../../state-dict.js';
import type { GraphBuilder } from '../onnx/graph-builder.js';
import { convNode, patchEmbedding, type GraphOutputs } from './conv-node.js';
import { float64, foldConvBn, plainConv } from './fold.js';

/** Adds the model from `input` on; the logits and pooled-feature tensors get the names in `outputs`. */
export function buildNaiveGraph(
  g: GraphBuilder,
  sd: StateDict,
  layout: EfficientVitLayout,
  input: string,
  outputs: GraphOutputs,
): GraphOutputs {
  let x = patchEmbedding(g, sd, layout, input);
  for (const layer of layout.layers) {
    g.scoped(layer.prefix, () => {
      switch (layer.kind) {
        case 'residual-dw':
          x = g.node('Add', [x, convNode(g, x, foldConvBn(sd, layer.conv))], {}, `${layer.conv.prefix}.add`);
          break;
        case 'residual-ffn': {
          const hidden = g.node('Relu', [convNode(g, x, foldConvBn(sd, layer.pw1))]);
          x = g.node('Add', [x, convNode(g, hidden, foldConvBn(sd, layer.pw2))], {}, `${layer.pw2.prefix}.add`);
          break;
        }
        case 'residual-attention':
          x = g.node('Add', [x, localWindowAttention(g, sd, layer, x)], {}, `${layer.prefix}.add`);
          break;
        case 'patch-merging':
          x = patchMerging(g, sd, layer, x);
          break;
      }
    });
  }
  const pooled = g.node('Flatten', [g.node('GlobalAveragePool', [x])], { axis: 1 }, outputs.embedding);
  const { head } = layout;
  const bn = g.node(
    'BatchNormalization',
    [
      pooled,
      g.addFloatInitializer('head.bn.weight', float64(sd, 'head.bn.weight'), [head.inFeatures]),
      g.addFloatInitializer('head.bn.bias', float64(sd, 'head.bn.bias'), [head.inFeatures]),
      g.addFloatInitializer('head.bn.running_mean', float64(sd, 'head.bn.running_mean'), [head.inFeatures]),
      g.addFloatInitializer('head.bn.running_var', float64(sd, 'head.bn.running_var'), [head.inFeatures]),
    ],
    { epsilon: { f: BATCH_NORM_EPS } },
  );
  const logits = g.node(
    'Gemm',
    [
      bn,
      g.addFloatInitializer('head.l.weight', float64(sd, 'head.l.weight'), [head.numClasses, head.inFeatures]),
      g.addFloatInitializer('head.l.bias', float64(sd, 'head.l.bias'), [head.numClasses]),
    ],
    { transB: 1 },
    outputs.logits,
  );
  return { logits, embedding: pooled };
}

function patchMerging(g: GraphBuilder, sd: StateDict, layer: PatchMergingLayer, x: string): string {
  const { se } = layer;
  let h = g.node('Relu', [convNode(g, x, foldConvBn(sd, layer.conv1))]);
  h = g.node('Relu', [convNode(g, h, foldConvBn(sd, layer.conv2))]);
  let s = g.node('ReduceMean', [h], { axes: [2, 3], keepdims: 1 }, `${se.prefix}.mean`);
  s = g.node('Relu', [convNode(g, s, plainConv(sd, `${se.prefix}.fc1`, se.channels, se.reducedChannels))]);
  s = g.node('Sigmoid', [convNode(g, s, plainConv(sd, `${se.prefix}.fc2`, se.reducedChannels, se.channels))]);
  h = g.node('Mul', [h, s], {}, `${se.prefix}.gate`);
  return convNode(g, h, foldConvBn(sd, layer.conv3));
}

function localWindowAttention(g: GraphBuilder, sd: StateDict, layer: ResidualAttentionLayer, x: string): string {
  const { resolution: r, windowResolution: w, channels: c } = layer;
  if (r <= w) return cascadedGroupAttention(g, sd, layer, x);
  if (r % w !== 0)
    throw new Error(
      `${layer.prefix}: resolution ${r} is not a multiple of window ${w}; padded windows are not exported`,
    );
  const n = r / w;
  // BCHW → BHWC → B,nH,w,nW,w,C → B,nH,nW,w,w,C → (B·nH·nW),w,w,C → (B·nH·nW),C,w,w
  let t = g.node('Transpose', [x], { perm: [0, 2, 3, 1] });
  t = g.node('Reshape', [t, g.int64([-1, n, w, n, w, c])]);
  t = g.node('Transpose', [t], { perm: [0, 1, 3, 2, 4, 5] });
  t = g.node('Reshape', [t, g.int64([-1, w, w, c])]);
  t = g.node('Transpose', [t], { perm: [0, 3, 1, 2] }, `${layer.prefix}.windows`);
  t = cascadedGroupAttention(g, sd, layer, t);
  // and back
  t = g.node('Transpose', [t], { perm: [0, 2, 3, 1] });
  t = g.node('Reshape', [t, g.int64([-1, n, n, w, w, c])]);
  t = g.node('Transpose', [t], { perm: [0, 1, 3, 2, 4, 5] });
  t = g.node('Reshape', [t, g.int64([-1, r, r, c])]);
  return g.node('Transpose', [t], { perm: [0, 3, 1, 2] }, `${layer.prefix}.unwindowed`);
}

function cascadedGroupAttention(g: GraphBuilder, sd: StateDict, layer: ResidualAttentionLayer, x: string): string {
  const { heads, keyDim, valueDim, attentionResolution: side } = layer;
  const tokens = side * side;
  const chunks = g.nodeMulti(
    'Split',
    [x, g.int64(Array(heads).fill(layer.channels / heads))],
    heads,
    { axis: 1 },
    `${layer.prefix}.chunk`,
  );
  const biases = float64(sd, `${layer.prefix}.attention_biases`);
  const idxs = attentionBiasIndices(side);
  const outputs: string[] = [];
  let feat = chunks[0];
  for (let i = 0; i < heads; i++) {
    const head = `${layer.prefix}.head${i}`;
    if (i > 0) feat = g.node('Add', [feat, chunks[i]], {}, `${head}.cascade`);
    const qkv = convNode(g, feat, foldConvBn(sd, layer.qkvs[i]));
    const [q0, k0, v0] = g.nodeMulti(
      'Split',
      [qkv, g.int64([keyDim, keyDim, valueDim])],
      3,
      { axis: 1 },
      `${head}.qkv`,
    );
    const q1 = convNode(g, q0, foldConvBn(sd, layer.dws[i]));
    const flat = g.int64([0, 0, -1]);
    const q = g.node('Reshape', [q1, flat], {}, `${head}.q`);
    const k = g.node('Reshape', [k0, flat], {}, `${head}.k`);
    const v = g.node('Reshape', [v0, flat], {}, `${head}.v`);
    const qt = g.node('Transpose', [q], { perm: [0, 2, 1] });
    let attn = g.node('MatMul', [qt, k], {}, `${head}.qk`);
    attn = g.node('Mul', [attn, g.addFloatInitializer(`${head}.scale`, [layer.scale], [])]);
    const bias = Float64Array.from(idxs, (j) => biases[i * layer.biasOffsets + j]);
    attn = g.node('Add', [attn, g.addFloatInitializer(`${head}.bias`, bias, [tokens, tokens])]);
    attn = g.node('Softmax', [attn], { axis: -1 }, `${head}.attn`);
    const attnT = g.node('Transpose', [attn], { perm: [0, 2, 1] });
    const out = g.node('MatMul', [v, attnT], {}, `${head}.out`);
    feat = g.node('Reshape', [out, g.int64([-1, valueDim, side, side])], {}, `${head}.feat`);
    outputs.push(feat);
  }
  const cat = g.node('Concat', outputs, { axis: 1 }, `${layer.prefix}.cat`);
  return convNode(g, g.node('Relu', [cat]), foldConvBn(sd, layer.proj));
}
