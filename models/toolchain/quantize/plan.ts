/**
 * Which nodes of an fp32 graph a static QDQ quantization covers, and which tensors then carry Q→DQ pairs —
 * following onnxruntime's QDQ quantizer (`onnxruntime/quantization/qdq_quantizer.py`) so that ORT's
 * QDQSelectorActionTransformer recognises the node groups:
 * - Conv / MatMul / Gemm: float activation inputs and the output get Q→DQ, weights become per-channel int8
 *   initializers behind a DequantizeLinear, biases int32 (scale = input scale · weight scale) → QLinearConv,
 *   QLinearMatMul, QGemm;
 * - Add / Mul, Softmax / Sigmoid / GlobalAveragePool / AveragePool, Concat: inputs and output → QLinearAdd, …;
 * - data movement (Reshape, Transpose, Split, …) whose input is quantized: outputs share the input's parameters,
 *   so ORT drops the pairs and moves 8-bit data;
 * - a Relu that is the only consumer of a quantized node's output: the Q goes after the Relu with the Relu's range
 *   (zero point at the integer minimum), which ORT folds away (its "redundant clip" rule);
 * - Softmax outputs use the fixed range [0, 1], as ORT's quantizer does.
 */
import type { GraphIndex, NodeProto } from './graph.js';
import type { Range } from './params.js';

export const WEIGHTED_OPS = ['Conv', 'MatMul', 'Gemm'] as const;
export const BINARY_OPS = ['Add', 'Mul'] as const;
export const UNARY_OPS = ['Softmax', 'Sigmoid', 'GlobalAveragePool', 'AveragePool'] as const;
export const VARIADIC_OPS = ['Concat'] as const;
export const DATA_MOVEMENT_OPS = ['Reshape', 'Transpose', 'Flatten', 'Squeeze', 'Unsqueeze', 'Split', 'Slice'] as const;

export const ALL_QUANTIZABLE_OPS: readonly string[] = [
  ...WEIGHTED_OPS,
  ...BINARY_OPS,
  ...UNARY_OPS,
  ...VARIADIC_OPS,
  ...DATA_MOVEMENT_OPS,
];

/** Parts of the network to leave in float (their inputs may still arrive through a DequantizeLinear). */
export interface KeepFloat {
  /** Softmax nodes. */
  softmax?: boolean;
  /** An Add whose output feeds a Softmax (the attention-bias add). */
  attentionBiasAdd?: boolean;
  /** An Add of two computed tensors (residual connections, and the cascade adds of cascaded group attention). */
  residualAdd?: boolean;
  /** The convolution reading the graph input. */
  firstConv?: boolean;
  /** The classifier: every node from the last global pooling to the outputs. */
  head?: boolean;
  /** Nodes by name. */
  nodes?: readonly string[];
}

export interface QdqPlan {
  /** Nodes replaced by their quantized form (weights to int8, Q→DQ around activations). */
  nodes: Set<NodeProto>;
  /** Tensors that get a Q→DQ pair, in graph order. */
  tensors: string[];
  /** Tensors whose range must be calibrated (the rest share another tensor's parameters or have fixed ranges). */
  calibrated: string[];
  /** tensor → the tensor whose quantization parameters it reuses. */
  sharesParamsWith: Map<string, string>;
  fixedRanges: Map<string, Range>;
  /** Relu nodes whose output carries their producer's quantization (the Q follows the Relu). */
  fusedRelus: Set<NodeProto>;
}

const isOneOf = (list: readonly string[], op: string | null | undefined) => list.includes(op ?? '');

/** Nodes of the classifier head: walking back from the graph outputs to the last global pooling (inclusive). */
function headNodes(index: GraphIndex): Set<NodeProto> {
  const head = new Set<NodeProto>();
  const stack = [...index.graphOutputs];
  let foundPooling = false;
  const visited = new Set<string>();
  while (stack.length > 0) {
    const value = stack.pop() as string;
    if (visited.has(value)) continue;
    visited.add(value);
    const node = index.producer.get(value);
    if (!node || head.has(node)) continue;
    head.add(node);
    if (isOneOf(['GlobalAveragePool', 'ReduceMean'], node.opType)) {
      foundPooling = true;
      continue;
    }
    for (const input of node.input ?? []) if (input && !index.isInitializer(input)) stack.push(input);
  }
  if (foundPooling) return head;
  // No pooling: the head is the last weighted op on the way to an output and what follows it.
  const tail = new Set<NodeProto>();
  const walk = [...index.graphOutputs];
  while (walk.length > 0) {
    const node = index.producer.get(walk.pop() as string);
    if (!node || tail.has(node)) continue;
    tail.add(node);
    if (isOneOf(WEIGHTED_OPS, node.opType)) continue;
    for (const input of node.input ?? []) if (input && !index.isInitializer(input)) walk.push(input);
  }
  return tail;
}

function excludedNodes(index: GraphIndex, keep: KeepFloat): Set<NodeProto> {
  const excluded = new Set<NodeProto>();
  const byName = new Set(keep.nodes ?? []);
  if (keep.head) for (const node of headNodes(index)) excluded.add(node);
  for (const node of index.graph.node ?? []) {
    const inputs = (node.input ?? []).filter(Boolean);
    if (byName.has(node.name ?? '')) excluded.add(node);
    if (keep.softmax && node.opType === 'Softmax') excluded.add(node);
    if (node.opType === 'Add') {
      const feedsSoftmax = index.consumersOf(node.output?.[0] ?? '').some((c) => c.opType === 'Softmax');
      if (keep.attentionBiasAdd && feedsSoftmax) excluded.add(node);
      if (keep.residualAdd && !feedsSoftmax && inputs.every((i) => !index.isInitializer(i))) excluded.add(node);
    }
    if (keep.firstConv && node.opType === 'Conv' && index.graphInputs.has(inputs[0] ?? '')) excluded.add(node);
  }
  return excluded;
}

/** Which inputs of a quantized node are activations that need Q→DQ (weights and biases are handled apart). */
export function activationInputs(node: NodeProto, index: GraphIndex): string[] {
  const inputs = node.input ?? [];
  switch (node.opType) {
    case 'Conv':
    case 'Gemm':
      return [inputs[0]];
    case 'MatMul':
      return inputs.filter((i) => !index.isInitializer(i));
    case 'Reshape':
    case 'Split':
    case 'Slice':
    case 'Squeeze':
    case 'Unsqueeze':
      return [inputs[0]];
    default:
      return inputs.filter((i) => i && !index.isInitializer(i));
  }
}

/** Whether the node's structure allows its quantized form (weights must be initializers, Gemm beta 1, …). */
function quantizable(node: NodeProto, index: GraphIndex): boolean {
  const inputs = node.input ?? [];
  switch (node.opType) {
    case 'Conv':
      return index.isInitializer(inputs[1]) && (!inputs[2] || index.isInitializer(inputs[2]));
    case 'Gemm': {
      const beta = node.attribute?.find((a) => a.name === 'beta')?.f ?? 1;
      const transA = Number(node.attribute?.find((a) => a.name === 'transA')?.i ?? 0);
      return (
        index.isInitializer(inputs[1]) && transA === 0 && (!inputs[2] || (index.isInitializer(inputs[2]) && beta === 1))
      );
    }
    case 'MatMul':
      return !index.isInitializer(inputs[0]);
    default:
      return true;
  }
}

/** Convolutions with a spatial kernel that are not depthwise (EfficientViT: the patch embedding). */
export function isDenseSpatialConv(node: NodeProto): boolean {
  if (node.opType !== 'Conv') return false;
  const kernel = node.attribute?.find((a) => a.name === 'kernel_shape')?.ints?.map(Number) ?? [];
  const group = Number(node.attribute?.find((a) => a.name === 'group')?.i ?? 1);
  return group === 1 && kernel.some((k) => k > 1);
}

/** 1×1 convolutions that are not grouped (EfficientViT: FFN, qkv, projection, patch-merging pointwise convs). */
export function isPointwiseConv(node: NodeProto): boolean {
  if (node.opType !== 'Conv') return false;
  const kernel = node.attribute?.find((a) => a.name === 'kernel_shape')?.ints?.map(Number) ?? [];
  const group = Number(node.attribute?.find((a) => a.name === 'group')?.i ?? 1);
  return group === 1 && kernel.every((k) => k === 1);
}

export interface PlanOptions {
  /** Op types to quantize (default: all listed above). */
  ops?: readonly string[];
  /** Further restricts the quantized (non data-movement) nodes. */
  select?: (node: NodeProto) => boolean;
  keepFloat?: KeepFloat;
}

export function planStaticQuantization(index: GraphIndex, options: PlanOptions = {}): QdqPlan {
  const ops = options.ops ?? ALL_QUANTIZABLE_OPS;
  const select = options.select ?? (() => true);
  const excluded = excludedNodes(index, options.keepFloat ?? {});
  const graphNodes = index.graph.node ?? [];
  const nodes = new Set<NodeProto>();
  const quantizedTensors = new Set<string>();
  const fixedRanges = new Map<string, Range>();
  const fusedRelus = new Set<NodeProto>();

  const quantizeOutput = (node: NodeProto) => {
    const output = node.output?.[0];
    if (!output || index.graphOutputs.has(output)) return;
    const consumers = index.consumersOf(output);
    const relu = consumers.length === 1 && consumers[0].opType === 'Relu' ? consumers[0] : undefined;
    const reluOutput = relu?.output?.[0];
    if (relu && reluOutput && !index.graphOutputs.has(reluOutput)) {
      fusedRelus.add(relu);
      quantizedTensors.add(reluOutput);
    } else {
      quantizedTensors.add(output);
    }
    if (node.opType === 'Softmax') fixedRanges.set(output, { min: 0, max: 1 });
  };

  for (const node of graphNodes) {
    const op = node.opType ?? '';
    if (
      !isOneOf(ops, op) ||
      excluded.has(node) ||
      isOneOf(DATA_MOVEMENT_OPS, op) ||
      !select(node) ||
      !quantizable(node, index)
    )
      continue;
    nodes.add(node);
    for (const input of activationInputs(node, index)) quantizedTensors.add(input);
    // Gemm may end in float (QGemm has a float-output form); everything else is quantized on both sides.
    quantizeOutput(node);
  }

  // Data movement follows quantized inputs, in graph order, so chains (Reshape → Transpose → …) share one range.
  const sharesParamsWith = new Map<string, string>();
  const root = (tensor: string) => sharesParamsWith.get(tensor) ?? tensor;
  for (const node of graphNodes) {
    const op = node.opType ?? '';
    if (!isOneOf(DATA_MOVEMENT_OPS, op) || !isOneOf(ops, op) || excluded.has(node)) continue;
    const input = node.input?.[0];
    if (!input || !quantizedTensors.has(input)) continue;
    const outputs = (node.output ?? []).filter(Boolean);
    if (outputs.some((o) => index.graphOutputs.has(o))) continue;
    nodes.add(node);
    for (const output of outputs) {
      sharesParamsWith.set(output, root(input));
      quantizedTensors.add(output);
    }
  }

  const order = new Map<string, number>();
  for (const input of index.graphInputs) order.set(input, -1);
  graphNodes.forEach((node, i) => node.output?.forEach((o) => order.set(o, i)));
  const tensors = [...quantizedTensors].sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
  const calibrated = tensors.filter((t) => !sharesParamsWith.has(t) && !fixedRanges.has(t));
  return { nodes, tensors, calibrated, sharesParamsWith, fixedRanges, fusedRelus };
}
