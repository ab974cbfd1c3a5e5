/**
 * Weight-only int8: the weights of Conv / MatMul / Gemm become per-channel symmetric int8 initializers and
 * activations stay float. Two encodings of the same int8 values:
 * - 'dequantize-linear': int8 → DequantizeLinear(scale, axis) → the op (ORT's QDQ convention). onnxruntime does
 *   not constant-fold DequantizeLinear while QDQ fusion is on, so the weights are dequantized on every run;
 * - 'cast-mul': int8 → Cast(float) → Mul(per-channel scale). Both are foldable, so onnxruntime turns them back into
 *   float initializers when the session is created: fp32 speed, int8 file.
 * Optionally, other float tables (rank ≥ 2, e.g. attention-bias tables) are stored as per-tensor int8 too; biases
 * (rank 1) always stay float: they are small and add straight into the output.
 */
import type { onnx as OnnxMessages } from 'onnx-proto';
import { TensorDataType } from '../onnx/proto.js';
import {
  decodeModel,
  encodeModel,
  GraphIndex,
  graphOf,
  intAttr,
  makeNode,
  Namer,
  outputChannelAxis,
  stampProducer,
  topologicalSort,
  type NodeProto,
} from './graph.js';
import {
  computeQuantParams,
  integerRange,
  quantizeValue,
  quantizeWeightPerChannel,
  type WeightScaleMethod,
} from './params.js';
import { floatTensor, quantizedTensor, readFloatTensor, tensorDims, type TensorProto } from './tensors.js';

export type WeightEncoding = 'dequantize-linear' | 'cast-mul';

export interface WeightOnlyOptions {
  encoding?: WeightEncoding;
  /** Op types whose weight input (input 1) is quantized. Default Conv, MatMul, Gemm. */
  ops?: readonly string[];
  /** How each weight channel's scale is chosen (default 'absmax'). */
  scaleMethod?: WeightScaleMethod;
  /** Also store other float initializers of rank ≥ 2 with at least this many elements as per-tensor int8 (0 = off). */
  tablesMinElements?: number;
}

export function quantizeWeightsOnly(fp32Onnx: Uint8Array, options: WeightOnlyOptions = {}): Uint8Array {
  const encoding = options.encoding ?? 'dequantize-linear';
  const ops = options.ops ?? ['Conv', 'MatMul', 'Gemm'];
  const model = decodeModel(fp32Onnx);
  const graph = graphOf(model);
  const index = new GraphIndex(graph);
  const namer = new Namer(graph);
  const added: TensorProto[] = [];
  const leading: NodeProto[] = [];
  const replaced = new Map<string, string>();

  const emit = (name: string, dims: number[], values: Int8Array, scales: Float32Array, axis: number | undefined) => {
    const qName = namer.fresh(`${name}_quantized`);
    const scaleName = namer.fresh(`${name}_scale`);
    const output = namer.fresh(`${name}_DequantizeLinear_Output`);
    added.push(quantizedTensor(qName, 'int8', dims, values));
    if (encoding === 'dequantize-linear') {
      const zpName = namer.fresh(`${name}_zero_point`);
      const perChannel = axis !== undefined;
      added.push(
        floatTensor(scaleName, perChannel ? [scales.length] : [], scales),
        quantizedTensor(zpName, 'int8', perChannel ? [scales.length] : [], new Int8Array(scales.length)),
      );
      leading.push(
        makeNode(
          'DequantizeLinear',
          namer.fresh(`${name}_DequantizeLinear`),
          [qName, scaleName, zpName],
          [output],
          perChannel ? [intAttr('axis', axis)] : [],
        ),
      );
    } else {
      // Scales shaped to broadcast along `axis` ([C, 1, 1, 1] for a Conv weight, [N] for a MatMul B).
      const scaleDims = axis === undefined ? [] : dims.map((d, i) => (i === axis ? d : 1));
      const castName = namer.fresh(`${name}_float`);
      added.push(floatTensor(scaleName, scaleDims, scales));
      leading.push(
        makeNode('Cast', namer.fresh(`${name}_Cast`), [qName], [castName], [intAttr('to', TensorDataType.FLOAT)]),
        makeNode('Mul', namer.fresh(`${name}_Scale`), [castName, scaleName], [output]),
      );
    }
    replaced.set(name, output);
  };

  for (const node of graph.node ?? []) {
    const weight = node.input?.[1];
    if (!ops.includes(node.opType ?? '') || !weight || !index.isInitializer(weight) || replaced.has(weight)) continue;
    const tensor = index.initializers.get(weight) as TensorProto;
    if (tensor.dataType !== TensorDataType.FLOAT) continue;
    const dims = tensorDims(tensor);
    const axis = outputChannelAxis(node, dims.length);
    const q = quantizeWeightPerChannel(readFloatTensor(tensor), dims, axis, { scaleMethod: options.scaleMethod });
    emit(weight, dims, q.values, q.scales, axis);
  }

  const minElements = options.tablesMinElements ?? 0;
  if (minElements > 0) {
    for (const tensor of graph.initializer ?? []) {
      const name = tensor.name ?? '';
      if (replaced.has(name) || tensor.dataType !== TensorDataType.FLOAT || tensorDims(tensor).length < 2) continue;
      const values = readFloatTensor(tensor);
      if (values.length < minElements) continue;
      // Symmetric per-tensor: 0 stays exact and no zero point is needed.
      let absMax = 0;
      for (const v of values) absMax = Math.max(absMax, Math.abs(v));
      const params = computeQuantParams({ min: -absMax, max: absMax }, 'int8', { symmetric: true });
      const { qmin, qmax } = integerRange('int8', { symmetric: true });
      emit(
        name,
        tensorDims(tensor),
        Int8Array.from(values, (v) => quantizeValue(v, params, qmin, qmax)),
        Float32Array.of(params.scale),
        undefined,
      );
    }
  }

  for (const node of graph.node ?? []) node.input = (node.input ?? []).map((input) => replaced.get(input) ?? input);
  graph.initializer = [...(graph.initializer ?? []).filter((t) => !replaced.has(t.name ?? '')), ...added];
  const available = [...index.graphInputs, ...graph.initializer.map((t) => t.name ?? '')];
  graph.node = topologicalSort([...leading, ...(graph.node ?? [])], available);
  stampProducer(model as OnnxMessages.IModelProto, `weight-only int8 (${encoding})`);
  return encodeModel(model);
}
