/**
 * The float simulation of a quantized graph: what its quantization parameters say it computes, with no integer
 * kernel involved. Each QuantizeLinear becomes Div → Round → Add(zero point) → Clip(qmin, qmax) (float values
 * that are integers), each DequantizeLinear of such a value Sub(zero point) → Mul(scale); DequantizeLinear of an
 * integer initializer (weights, biases, quantized constants) becomes the float initializer it denotes, computed
 * here. onnxruntime has nothing left to fuse, so it runs the graph in float: the reference that tests hold
 * onnxruntime's fused QLinear* kernels to.
 */
import { TensorDataType } from '../onnx/proto.js';
import {
  decodeModel,
  encodeModel,
  GraphIndex,
  graphOf,
  intAttribute,
  makeNode,
  Namer,
  topologicalSort,
  type NodeProto,
} from './graph.js';
import { integerRange } from './params.js';
import { floatTensor, readFloatTensor, readIntegerTensor, tensorDims, type TensorProto } from './tensors.js';

function integerLimits(dataType: number | null | undefined): { qmin: number; qmax: number } {
  if (dataType === TensorDataType.INT8) return integerRange('int8');
  if (dataType === TensorDataType.UINT8) return integerRange('uint8');
  throw new Error(`unsupported quantized element type ${dataType}`);
}

/** (q − zp) · scale along `axis` (per-channel) or for the whole tensor (scalar scale). */
export function dequantizeInitializer(
  q: TensorProto,
  scale: TensorProto,
  zeroPoint: TensorProto | undefined,
  axis: number,
): Float32Array {
  const values = readIntegerTensor(q);
  const scales = readFloatTensor(scale);
  const zeros = zeroPoint ? readIntegerTensor(zeroPoint) : new Int32Array(scales.length);
  const dims = tensorDims(q);
  const out = new Float32Array(values.length);
  if (scales.length === 1) {
    for (let i = 0; i < values.length; i++) out[i] = (values[i] - zeros[0]) * scales[0];
    return out;
  }
  const a = axis < 0 ? axis + dims.length : axis;
  const inner = dims.slice(a + 1).reduce((n, d) => n * d, 1);
  for (let i = 0; i < values.length; i++) {
    const c = Math.floor(i / inner) % dims[a];
    out[i] = (values[i] - zeros[c]) * scales[c];
  }
  return out;
}

export function simulateQuantization(quantizedOnnx: Uint8Array): Uint8Array {
  const model = decodeModel(quantizedOnnx);
  const graph = graphOf(model);
  const index = new GraphIndex(graph);
  const namer = new Namer(graph);
  const added: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  const constant = (hint: string, value: number) => {
    const name = namer.fresh(hint);
    added.push(floatTensor(name, [], [value]));
    return name;
  };

  for (const node of graph.node ?? []) {
    const [x, scale, zeroPoint] = node.input ?? [];
    const output = node.output?.[0] ?? '';
    if (node.opType === 'DequantizeLinear' && index.isInitializer(x)) {
      const values = dequantizeInitializer(
        index.initializers.get(x) as TensorProto,
        index.initializers.get(scale) as TensorProto,
        zeroPoint ? index.initializers.get(zeroPoint) : undefined,
        intAttribute(node, 'axis', 1),
      );
      added.push(floatTensor(output, tensorDims(index.initializers.get(x) as TensorProto), values));
      continue;
    }
    if (node.opType === 'QuantizeLinear') {
      if (!index.isInitializer(scale) || readFloatTensor(index.initializers.get(scale) as TensorProto).length !== 1) {
        throw new Error(`QuantizeLinear '${node.name}': only per-tensor activation quantization is simulated`);
      }
      const zp = zeroPoint ? index.initializers.get(zeroPoint) : undefined;
      const { qmin, qmax } = integerLimits(zp?.dataType ?? TensorDataType.UINT8);
      const zpValue = zp ? readIntegerTensor(zp)[0] : 0;
      const scaled = namer.fresh(`${output}_scaled`);
      const rounded = namer.fresh(`${output}_rounded`);
      const shifted = namer.fresh(`${output}_shifted`);
      nodes.push(
        makeNode('Div', namer.fresh(`${scaled}_node`), [x, scale], [scaled]),
        makeNode('Round', namer.fresh(`${rounded}_node`), [scaled], [rounded]),
        makeNode('Add', namer.fresh(`${shifted}_node`), [rounded, constant(`${output}_zp_float`, zpValue)], [shifted]),
        makeNode(
          'Clip',
          namer.fresh(`${output}_node`),
          [shifted, constant(`${output}_qmin`, qmin), constant(`${output}_qmax`, qmax)],
          [output],
        ),
      );
      continue;
    }
    if (node.opType === 'DequantizeLinear') {
      const zp = zeroPoint ? index.initializers.get(zeroPoint) : undefined;
      const zpValue = zp ? readIntegerTensor(zp)[0] : 0;
      const centred = namer.fresh(`${output}_centred`);
      nodes.push(
        makeNode('Sub', namer.fresh(`${centred}_node`), [x, constant(`${output}_zp_float`, zpValue)], [centred]),
        makeNode('Mul', namer.fresh(`${output}_node`), [centred, scale], [output]),
      );
      continue;
    }
    nodes.push(node);
  }
  const used = new Set(nodes.flatMap((n) => n.input ?? []));
  graph.initializer = [...(graph.initializer ?? []), ...added].filter(
    (t) => used.has(t.name ?? '') || (graph.output ?? []).some((o) => o.name === t.name),
  );
  graph.node = topologicalSort(nodes, [...index.graphInputs, ...graph.initializer.map((t) => t.name ?? '')]);
  model.docString = `${model.docString ?? ''}; float simulation of its quantization`;
  return encodeModel(model);
}
