import type { GraphBuilder } from '../onnx/graph-builder.js';
import type { FoldedConv } from './fold.js';

/** An ONNX Conv (with bias) for a folded convolution; its weights become float32 initializers. */
export function convNode(g: GraphBuilder, x: string, folded: FoldedConv): string {
  const { spec } = folded;
  return g.node(
    'Conv',
    [x, g.addFloatInitializer(`${spec.prefix}.weight`, folded.weight, folded.dims), g.addFloatInitializer(`${spec.prefix}.bias`, folded.bias, [spec.outChannels])],
    {
      kernel_shape: [spec.kernel, spec.kernel],
      strides: [spec.stride, spec.stride],
      pads: [spec.padding, spec.padding, spec.padding, spec.padding],
      group: spec.groups,
    },
    spec.prefix,
  );
}
