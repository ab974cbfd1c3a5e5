/**
 * EfficientViT state dict (official keys) → fp32 ONNX bytes. Input `input` float32 [N, 3, 224, 224] with symbolic
 * batch 'N', outputs `logits` float32 [N, 1000] and `embedding` float32 [N, C]: the pooled features before the head's
 * BatchNorm (C = the last stage's width), raw — the service L2-normalises them, so the graph output stays exactly the
 * official model's pooled features (what the float64 reference checks and a linear probe wants). Two graphs compute the same function:
 * - 'naive': a direct translation of the PyTorch eval graph (the baseline);
 * - 'optimized': restructured for onnxruntime-web's wasm kernels (see optimized.ts).
 */
import { efficientVitLayout, validateStateDict } from '../../efficientvit.js';
import type { StateDict } from '../../state-dict.js';
import { GraphBuilder } from '../onnx/graph-builder.js';
import { buildNaiveGraph } from './naive.js';
import { buildOptimizedGraph } from './optimized.js';
import type { Variant } from '../../../worker/core/manifest/manifest.js';

export type GraphKind = 'naive' | 'optimized';

export interface ExportOptions {
  graph: GraphKind;
}

/** Opset 17: every op used here runs in onnxruntime-node CPU and onnxruntime-web wasm 1.30. */
export const EXPORT_OPSET = 17;
export const INPUT_NAME = 'input';
export const OUTPUT_NAME = 'logits';
export const EMBEDDING_NAME = 'embedding';

export function exportOnnx(stateDict: StateDict, variant: Variant, options: ExportOptions): Uint8Array {
  const sd = validateStateDict(stateDict, variant);
  const layout = efficientVitLayout(variant);
  const { config } = layout;
  const g = new GraphBuilder(`efficientvit_${variant}_${options.graph}`);
  const input = g.addInput(INPUT_NAME, 'float32', ['N', config.inChannels, config.imageSize, config.imageSize]);
  const build = options.graph === 'optimized' ? buildOptimizedGraph : buildNaiveGraph;
  const { logits, embedding } = build(g, sd, layout, input, { logits: OUTPUT_NAME, embedding: EMBEDDING_NAME });
  if (logits !== OUTPUT_NAME || embedding !== EMBEDDING_NAME)
    throw new Error(`output names '${OUTPUT_NAME}', '${EMBEDDING_NAME}' were taken inside the graph`);
  // logits first: a session's first output stays the logits for readers that know only one output.
  g.addOutput(logits, 'float32', ['N', config.numClasses]);
  g.addOutput(embedding, 'float32', ['N', layout.head.inFeatures]);
  return g.toBytes({
    opset: EXPORT_OPSET,
    producerName: 'efficientvit-edge',
    docString: `EfficientViT-${variant.toUpperCase()} (Liu et al., CVPR 2023), ${options.graph} graph, BatchNorm folded, fp32`,
    metadata: {
      architecture: 'efficientvit',
      variant,
      graph: options.graph,
      input: INPUT_NAME,
      output: OUTPUT_NAME,
      embedding: EMBEDDING_NAME,
    },
  });
}
