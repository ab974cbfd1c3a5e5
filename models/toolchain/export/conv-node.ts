import type { EfficientVitLayout } from '../../efficientvit.js';
import type { StateDict } from '../../state-dict.js';
import type { GraphBuilder } from '../onnx/graph-builder.js';
import { foldConvBn, type FoldedConv } from './fold.js';

/** The two graph outputs both exporters produce: the logits and the pooled features before the head. */
export interface GraphOutputs {
  logits: string;
  embedding: string;
}

/** An ONNX Conv (with bias) for a folded convolution; its weights become float32 initializers. */
export function convNode(g: GraphBuilder, x: string, folded: FoldedConv): string {
  const { spec } = folded;
  return g.node(
    'Conv',
    [
      x,
      g.addFloatInitializer(`${spec.prefix}.weight`, folded.weight, folded.dims),
      g.addFloatInitializer(`${spec.prefix}.bias`, folded.bias, [spec.outChannels]),
    ],
    {
      kernel_shape: [spec.kernel, spec.kernel],
      strides: [spec.stride, spec.stride],
      pads: [spec.padding, spec.padding, spec.padding, spec.padding],
      group: spec.groups,
    },
    spec.prefix,
  );
}

/** The stem both graphs share: four BN-folded 3×3 stride-2 convs with ReLU between them. */
export function patchEmbedding(g: GraphBuilder, sd: StateDict, layout: EfficientVitLayout, input: string): string {
  let x = input;
  g.scoped('patch_embed', () =>
    layout.patchEmbed.forEach((spec, i) => {
      x = convNode(g, x, foldConvBn(sd, spec));
      if (i < layout.patchEmbed.length - 1) x = g.node('Relu', [x]);
    }),
  );
  return x;
}
