/**
 * The graph built for onnxruntime-web's wasm kernels, from per-node profiles (onnxruntime-web prints them with
 * `enableProfiling`). Same function as naive.ts, restructured where the wasm build is slow:
 * - q's depthwise conv (5×5/7×7/3×3 on 7×7 or 4×4 windows) becomes one dense [tokens × tokens] operator per
 *   channel, applied by a batched MatMul: the wasm build runs a grouped Conv as one im2col + GEMM per channel and
 *   image, 2–3× slower here; the attention scale is folded into that operator;
 * - the qkv convs of the heads' input chunks are one grouped conv on the whole map (before window partition); the
 *   cascade adds only W_i·out_{i-1} per later head;
 * - attention runs token-major ([B', tokens, channels]): the window partition moves whole rows of channels (one
 *   cheap Transpose each way instead of the naive graph's three, two of them strided), Q·Kᵀ and attn·V need no
 *   Transpose, and proj (pointwise) runs once over all positions after the windows are merged back;
 * - `x + dw(x)` residuals fold into the depthwise kernel (+1 at the centre tap); the head's BatchNorm1d folds
 *   into the Gemm; attention bias tables are gathered at export time.
 * The rest (patch embedding, FFNs, patch merging: about 80% of the time) is GEMM-bound and already runs near the
 * wasm SGEMM kernel's throughput in the naive graph. The price of the dense q operators: 16·tokens² floats per
 * head (about +2 MB for M0).
 */
import { attentionBiasIndices, type EfficientVitLayout, type ResidualAttentionLayer } from '../../efficientvit.js';
import type { StateDict } from '../../state-dict.js';
import type { GraphBuilder } from '../onnx/graph-builder.js';
import { float64, foldBnLinear, foldConvBn, plainConv, type FoldedConv } from './fold.js';
import { convNode, patchEmbedding, type GraphOutputs } from './conv-node.js';

/** Adds the model from `input` on; the logits and pooled-feature tensors get the names in `outputs`. */
export function buildOptimizedGraph(
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
          x = convNode(g, x, withIdentity(foldConvBn(sd, layer.conv)));
          break;
        case 'residual-ffn': {
          const hidden = g.node('Relu', [convNode(g, x, foldConvBn(sd, layer.pw1))]);
          x = g.node('Add', [x, convNode(g, hidden, foldConvBn(sd, layer.pw2))], {}, `${layer.pw2.prefix}.add`);
          break;
        }
        case 'residual-attention':
          x = g.node('Add', [x, attention(g, sd, layer, x)], {}, `${layer.prefix}.add`);
          break;
        case 'patch-merging': {
          const { se } = layer;
          let h = g.node('Relu', [convNode(g, x, foldConvBn(sd, layer.conv1))]);
          h = g.node('Relu', [convNode(g, h, foldConvBn(sd, layer.conv2))]);
          let s = g.node('GlobalAveragePool', [h], {}, `${se.prefix}.mean`);
          s = g.node('Relu', [convNode(g, s, plainConv(sd, `${se.prefix}.fc1`, se.channels, se.reducedChannels))]);
          s = g.node('Sigmoid', [convNode(g, s, plainConv(sd, `${se.prefix}.fc2`, se.reducedChannels, se.channels))]);
          x = convNode(g, g.node('Mul', [h, s], {}, `${se.prefix}.gate`), foldConvBn(sd, layer.conv3));
          break;
        }
      }
    });
  }
  const pooled = g.node('Flatten', [g.node('GlobalAveragePool', [x])], { axis: 1 }, outputs.embedding);
  const head = foldBnLinear(sd, layout.head.prefix);
  const logits = g.node(
    'Gemm',
    [
      pooled,
      g.addFloatInitializer('head.weight', head.weight, head.dims),
      g.addFloatInitializer('head.bias', head.bias, [head.dims[0]]),
    ],
    { transB: 1 },
    outputs.logits,
  );
  return { logits, embedding: pooled };
}

/** x + dwconv(x) == dwconv'(x) with 1 added at each channel's centre tap (stride 1, 'same' padding). */
function withIdentity(folded: FoldedConv): FoldedConv {
  const { kernel, outChannels } = folded.spec;
  const weight = Float64Array.from(folded.weight);
  const taps = kernel * kernel;
  for (let c = 0; c < outChannels; c++) weight[c * taps + (taps >> 1)] += 1;
  return { ...folded, weight };
}

function attention(g: GraphBuilder, sd: StateDict, layer: ResidualAttentionLayer, x: string): string {
  const { resolution: r, windowResolution: w, channels: c, heads } = layer;
  const qkvWidth = 2 * layer.keyDim + layer.valueDim;
  const qkvs = layer.qkvs.map((spec) => foldConvBn(sd, spec));
  // qkv_i(chunk_i + out_{i-1}) = qkv_i(chunk_i) + W_i·out_{i-1}: the chunk terms of all heads are one grouped conv,
  // pointwise, so it runs on the whole map before window partition (one GEMM per head over all positions).
  const grouped: FoldedConv = {
    spec: {
      ...layer.qkvs[0],
      prefix: `${layer.prefix}.qkvs`,
      inChannels: c,
      outChannels: heads * qkvWidth,
      groups: heads,
    },
    weight: concatArrays(qkvs.map((q) => q.weight)),
    bias: concatArrays(qkvs.map((q) => q.bias)),
    dims: [heads * qkvWidth, c / heads, 1, 1],
  };
  // From here on tokens are rows and channels are columns ([B', tokens, channels]): the window partition then moves
  // whole rows of channels, and MatMul consumes the layouts without Transposes.
  let terms = g.node('Transpose', [g.node('Reshape', [convNode(g, x, grouped), g.int64([0, heads * qkvWidth, -1])])], {
    perm: [0, 2, 1],
  });
  const windowed = r > w;
  const n = Math.ceil(r / w);
  if (windowed) {
    if (r % w !== 0)
      throw new Error(
        `${layer.prefix}: resolution ${r} is not a multiple of window ${w}; padded windows are not exported`,
      );
    // [B, nH·w·nW·w, Q] → [B, nH, w, nW, w, Q] → [B, nH, nW, w, w, Q] → [B·nH·nW, w·w, Q]
    terms = g.node('Reshape', [terms, g.int64([-1, n, w, n, w, heads * qkvWidth])]);
    terms = g.node('Transpose', [terms], { perm: [0, 1, 3, 2, 4, 5] });
    terms = g.node('Reshape', [terms, g.int64([-1, w * w, heads * qkvWidth])], {}, `${layer.prefix}.windows`);
  }
  let t = g.node('Relu', [cascadedGroupAttention(g, sd, layer, qkvs, terms)]);
  if (windowed) {
    t = g.node('Reshape', [t, g.int64([-1, n, n, w, w, c])]);
    t = g.node('Transpose', [t], { perm: [0, 1, 3, 2, 4, 5] });
    t = g.node('Reshape', [t, g.int64([-1, r * r, c])], {}, `${layer.prefix}.unwindowed`);
  }
  // proj (pointwise) on all positions at once, then back to [B, C, r, r].
  const proj = foldConvBn(sd, layer.proj);
  t = g.node('Add', [
    g.node('MatMul', [t, g.addFloatInitializer(`${layer.proj.prefix}.weight`, transposed(proj.weight, c, c), [c, c])]),
    g.addFloatInitializer(`${layer.proj.prefix}.bias`, proj.bias, [c]),
  ]);
  return g.node(
    'Reshape',
    [g.node('Transpose', [t], { perm: [0, 2, 1] }), g.int64([-1, c, r, r])],
    {},
    `${layer.prefix}.out`,
  );
}

/** A row-major [rows, cols] matrix transposed. */
function transposed(m: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(m.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = m[i * cols + j];
  return out;
}

/**
 * The depthwise conv on q as one dense [tokens × tokens] operator per channel, applied by a batched MatMul: in
 * onnxruntime's wasm build a grouped Conv runs one im2col + GEMM per channel and image, several times slower.
 * Returns Kᵀ, [channels, tokens_in, tokens_out], so that q' = q · Kᵀ for q laid out [channels, windows, tokens];
 * zero padding at the window border is built in (out-of-window taps are dropped). Scaled by `scale`.
 */
function depthwiseOperator(folded: FoldedConv, side: number, scale: number): Float64Array {
  const { kernel, outChannels } = folded.spec;
  const tokens = side * side;
  const pad = kernel >> 1;
  const op = new Float64Array(outChannels * tokens * tokens);
  for (let c = 0; c < outChannels; c++) {
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        for (let dy = 0; dy < kernel; dy++) {
          for (let dx = 0; dx < kernel; dx++) {
            const sy = y + dy - pad;
            const sx = x + dx - pad;
            if (sy < 0 || sx < 0 || sy >= side || sx >= side) continue;
            op[(c * tokens + sy * side + sx) * tokens + y * side + x] =
              folded.weight[(c * kernel + dy) * kernel + dx] * scale;
          }
        }
      }
    }
  }
  return op;
}

/**
 * The cascade over heads, token-major: `chunkTerms` holds every head's qkv_i(chunk_i), [B', tokens, heads·(2kd+d)].
 * Returns the heads' concatenated outputs [B', tokens, heads·d] (before proj's ReLU).
 */
function cascadedGroupAttention(
  g: GraphBuilder,
  sd: StateDict,
  layer: ResidualAttentionLayer,
  qkvs: FoldedConv[],
  chunkTerms: string,
): string {
  const { heads, keyDim, valueDim, attentionResolution: side } = layer;
  const tokens = side * side;
  const biases = float64(sd, `${layer.prefix}.attention_biases`);
  const idxs = attentionBiasIndices(side);
  const qkvWidth = 2 * keyDim + valueDim;
  const terms = g.nodeMulti(
    'Split',
    [chunkTerms, g.int64(Array(heads).fill(qkvWidth))],
    heads,
    { axis: 2 },
    `${layer.prefix}.qkv_chunks`,
  );
  const outputs: string[] = [];
  let previous: string | undefined;
  for (let i = 0; i < heads; i++) {
    const head = `${layer.prefix}.head${i}`;
    let qkv = terms[i];
    if (previous) {
      // the cascade term W_i·out_{i-1} (no bias: the chunk term has it)
      const cascadeWeight = g.addFloatInitializer(
        `${head}.cascade_weight`,
        transposed(qkvs[i].weight, qkvWidth, valueDim),
        [valueDim, qkvWidth],
      );
      qkv = g.node('Add', [g.node('MatMul', [previous, cascadeWeight]), qkv], {}, `${head}.cascade`);
    }
    const [q, k, v] = g.nodeMulti('Split', [qkv, g.int64([keyDim, keyDim, valueDim])], 3, { axis: 2 }, `${head}.qkv`);
    // q: [B', N, kd] → [kd, B', N] · Kᵀ[kd, N, N] + β → [B', N, kd], the dw conv and key_dim^-0.5 in Kᵀ and β
    const dw = foldConvBn(sd, layer.dws[i]);
    let qs = g.node(
      'MatMul',
      [
        g.node('Transpose', [q], { perm: [2, 0, 1] }),
        g.addFloatInitializer(`${head}.q_dw`, depthwiseOperator(dw, side, layer.scale), [keyDim, tokens, tokens]),
      ],
      {},
      `${head}.q_dw`,
    );
    qs = g.node('Add', [
      qs,
      g.addFloatInitializer(
        `${head}.q_dw_bias`,
        dw.bias.map((b) => b * layer.scale),
        [keyDim, 1, 1],
      ),
    ]);
    qs = g.node('Transpose', [qs], { perm: [1, 2, 0] }, `${head}.q`);
    const bias = Float64Array.from(idxs, (j) => biases[i * layer.biasOffsets + j]);
    const logits = g.node('MatMul', [qs, g.node('Transpose', [k], { perm: [0, 2, 1] })], {}, `${head}.qk`);
    const attn = g.node(
      'Softmax',
      [g.node('Add', [logits, g.addFloatInitializer(`${head}.bias`, bias, [tokens, tokens])])],
      { axis: -1 },
      `${head}.attn`,
    );
    previous = g.node('MatMul', [attn, v], {}, `${head}.out`);
    outputs.push(previous);
  }
  return g.node('Concat', outputs, { axis: 2 }, `${layer.prefix}.cat`);
}

function concatArrays(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
