/**
 * Just enough graph structure for rewriting an ONNX model in place: who produces and who consumes each value,
 * which values are initializers, fresh names, and attribute access.
 */
import type { onnx as OnnxMessages } from 'onnx-proto';
import { AttributeType, onnx } from '../onnx/proto.js';
import { QuantizeError } from './errors.js';
import { toNumber, type TensorProto } from './tensors.js';

export type ModelProto = OnnxMessages.ModelProto;
export type NodeProto = OnnxMessages.INodeProto;

export function decodeModel(bytes: Uint8Array): ModelProto {
  let model: ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (error) {
    throw new QuantizeError('invalid-model', `not an ONNX model: ${(error as Error).message}`);
  }
  if (!model.graph || (model.graph.node ?? []).length === 0)
    throw new QuantizeError('invalid-model', 'not an ONNX model: no graph nodes');
  return model;
}

export function encodeModel(model: OnnxMessages.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

export function graphOf(model: OnnxMessages.IModelProto): OnnxMessages.IGraphProto {
  if (!model.graph) throw new QuantizeError('invalid-model', 'model has no graph');
  return model.graph;
}

export class GraphIndex {
  readonly producer = new Map<string, NodeProto>();
  readonly consumers = new Map<string, NodeProto[]>();
  readonly initializers = new Map<string, TensorProto>();
  readonly graphInputs: Set<string>;
  readonly graphOutputs: Set<string>;

  constructor(readonly graph: OnnxMessages.IGraphProto) {
    for (const tensor of graph.initializer ?? []) this.initializers.set(tensor.name ?? '', tensor);
    this.graphInputs = new Set(
      (graph.input ?? []).map((v) => v.name ?? '').filter((name) => !this.initializers.has(name)),
    );
    this.graphOutputs = new Set((graph.output ?? []).map((v) => v.name ?? ''));
    for (const node of graph.node ?? []) {
      for (const output of node.output ?? []) if (output) this.producer.set(output, node);
      for (const input of node.input ?? []) {
        if (!input) continue;
        const list = this.consumers.get(input) ?? [];
        if (!list.includes(node)) list.push(node);
        this.consumers.set(input, list);
      }
    }
  }

  consumersOf(value: string): NodeProto[] {
    return this.consumers.get(value) ?? [];
  }

  isInitializer(value: string): boolean {
    return this.initializers.has(value);
  }
}

/** Fresh names that collide with nothing in the graph (values, nodes, initializers). */
export class Namer {
  private readonly used = new Set<string>();

  constructor(graph: OnnxMessages.IGraphProto) {
    const add = (name: string | null | undefined) => name && this.used.add(name);
    for (const node of graph.node ?? []) {
      add(node.name);
      node.input?.forEach(add);
      node.output?.forEach(add);
    }
    graph.initializer?.forEach((t) => add(t.name));
    graph.input?.forEach((v) => add(v.name));
    graph.output?.forEach((v) => add(v.name));
  }

  fresh(hint: string): string {
    let name = hint;
    for (let i = 1; this.used.has(name); i++) name = `${hint}_${i}`;
    this.used.add(name);
    return name;
  }
}

export function attribute(node: NodeProto, name: string): OnnxMessages.IAttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export function intAttribute(node: NodeProto, name: string, fallback: number): number {
  const attr = attribute(node, name);
  return attr ? toNumber(attr.i) : fallback;
}

export function floatAttribute(node: NodeProto, name: string, fallback: number): number {
  const attr = attribute(node, name);
  return attr ? (attr.f ?? fallback) : fallback;
}

export function intAttr(name: string, value: number): OnnxMessages.IAttributeProto {
  return { name, type: AttributeType.INT, i: value };
}

export function makeNode(
  opType: string,
  name: string,
  inputs: string[],
  outputs: string[],
  attributes: OnnxMessages.IAttributeProto[] = [],
  domain = '',
): NodeProto {
  return { opType, name, input: inputs, output: outputs, attribute: attributes, domain };
}

/** The element type of a graph input, output or value_info entry, if the graph declares it. */
export function declaredElementType(graph: OnnxMessages.IGraphProto, value: string): number | undefined {
  for (const info of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    if (info.name === value) return info.type?.tensorType?.elemType ?? undefined;
  }
  return undefined;
}

/** Static dims of a graph input (symbolic dims as undefined). */
export function declaredDims(graph: OnnxMessages.IGraphProto, value: string): (number | undefined)[] | undefined {
  const info = (graph.input ?? []).find((v) => v.name === value);
  const dims = info?.type?.tensorType?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d) =>
    d.dimValue !== null && d.dimValue !== undefined && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : undefined,
  );
}

/** Orders nodes so each comes after the producers of its inputs (Kahn's algorithm, stable). */
export function topologicalSort(nodes: NodeProto[], available: Iterable<string>): NodeProto[] {
  const ready = new Set(available);
  const pending = [...nodes];
  const sorted: NodeProto[] = [];
  while (pending.length > 0) {
    const before = pending.length;
    for (let i = 0; i < pending.length; ) {
      const node = pending[i];
      if ((node.input ?? []).every((name) => !name || ready.has(name))) {
        sorted.push(node);
        for (const output of node.output ?? []) ready.add(output);
        pending.splice(i, 1);
      } else {
        i++;
      }
    }
    if (pending.length === before)
      throw new Error(`graph has a cycle or a missing value before node '${pending[0].name}'`);
  }
  return sorted;
}

/**
 * The weight axis that carries output channels: Conv [O, I, kh, kw] → 0, Gemm per transB, MatMul B [K, N] → 1;
 * a batched MatMul B [C, K, N] (one matrix per channel) → 0.
 */
export function outputChannelAxis(node: NodeProto, rank: number): number {
  if (node.opType === 'Conv') return 0;
  if (node.opType === 'Gemm') return intAttribute(node, 'transB', 0) === 1 ? 0 : 1;
  return rank === 2 ? 1 : 0;
}

/** Records in the model's doc string how it was quantized. */
export function stampProducer(model: OnnxMessages.IModelProto, what: string): void {
  model.docString = `${model.docString ?? ''}${model.docString ? '; ' : ''}quantized: ${what} (efficientvit-edge models/toolchain/quantize)`;
}
