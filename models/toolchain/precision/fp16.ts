/**
 * fp16 models for GPU hosts: every float32 weight and activation becomes float16, and the graph boundary stays
 * float32 (a Cast after the input, one before the output), so the service feeds and reads them exactly as the fp32
 * build. Every op of the export (Conv, MatMul, Gemm, Softmax, Add, …) has CUDA fp16 kernels; onnxruntime's CPU
 * provider has few, and runs the rest through inserted fp32 casts (slower than the fp32 build: the Node server does
 * not serve fp16 on CPU, see worker/runtimes/node/fp16-files.ts).
 */
import type { onnx as OnnxMessages } from 'onnx-proto';
import { TensorDataType } from '../onnx/proto.js';
import { decodeModel, encodeModel, graphOf, intAttr, makeNode, Namer, topologicalSort } from '../quantize/graph.js';
import { readFloatTensor, type TensorProto } from '../quantize/tensors.js';
import { FLOAT16_MAX, toFloat16Array } from './half.js';

function toHalfTensor(tensor: TensorProto): TensorProto {
  const values = readFloatTensor(tensor);
  for (const value of values) {
    if (!(Math.abs(value) <= FLOAT16_MAX))
      throw new Error(`tensor '${tensor.name}' holds ${value}, outside float16's range (±${FLOAT16_MAX})`);
  }
  const half = toFloat16Array(values);
  return {
    name: tensor.name,
    dims: tensor.dims,
    dataType: TensorDataType.FLOAT16,
    rawData: new Uint8Array(half.buffer, half.byteOffset, half.byteLength),
  };
}

function setElementType(value: OnnxMessages.IValueInfoProto, from: number, to: number): void {
  const tensorType = value.type?.tensorType;
  if (tensorType && tensorType.elemType === from) tensorType.elemType = to;
}

export function convertToFp16(fp32Onnx: Uint8Array): Uint8Array {
  const model = decodeModel(fp32Onnx);
  const graph = graphOf(model);
  const namer = new Namer(graph);
  graph.initializer = (graph.initializer ?? []).map((tensor) =>
    tensor.dataType === TensorDataType.FLOAT ? toHalfTensor(tensor) : tensor,
  );
  for (const node of graph.node ?? []) {
    if (node.opType === 'Constant' || node.opType === 'ConstantOfShape')
      throw new Error(`${node.opType} nodes are not converted (the export folds every constant into an initializer)`);
    // Casts to float inside the graph now cast to half.
    for (const attribute of node.attribute ?? []) {
      if (node.opType === 'Cast' && attribute.name === 'to' && Number(attribute.i) === TensorDataType.FLOAT)
        attribute.i = TensorDataType.FLOAT16;
    }
  }
  for (const value of graph.valueInfo ?? []) setElementType(value, TensorDataType.FLOAT, TensorDataType.FLOAT16);

  const renamed = new Map<string, string>();
  const boundary: OnnxMessages.INodeProto[] = [];
  for (const input of graph.input ?? []) {
    if (input.type?.tensorType?.elemType !== TensorDataType.FLOAT) continue;
    const half = namer.fresh(`${input.name}_fp16`);
    renamed.set(input.name ?? '', half);
    boundary.push(
      makeNode(
        'Cast',
        namer.fresh(`${input.name}_Cast`),
        [input.name ?? ''],
        [half],
        [intAttr('to', TensorDataType.FLOAT16)],
      ),
    );
  }
  for (const node of graph.node ?? []) node.input = (node.input ?? []).map((name) => renamed.get(name) ?? name);
  for (const output of graph.output ?? []) {
    if (output.type?.tensorType?.elemType !== TensorDataType.FLOAT) continue;
    const name = output.name ?? '';
    const half = namer.fresh(`${name}_fp16`);
    // Nodes inside the graph that read an output (the head's Gemm reads `embedding`) keep reading the float16 tensor.
    for (const node of graph.node ?? []) {
      node.output = (node.output ?? []).map((out) => (out === name ? half : out));
      node.input = (node.input ?? []).map((input) => (input === name ? half : input));
    }
    boundary.push(makeNode('Cast', namer.fresh(`${name}_Cast`), [half], [name], [intAttr('to', TensorDataType.FLOAT)]));
  }
  const available = [...(graph.input ?? []).map((v) => v.name ?? ''), ...graph.initializer.map((t) => t.name ?? '')];
  graph.node = topologicalSort([...boundary, ...(graph.node ?? [])], available);
  model.docString = `${model.docString ?? ''}${model.docString ? '; ' : ''}fp16: weights and activations float16, float32 input/output (efficientvit-edge models/toolchain/precision)`;
  return encodeModel(model);
}
