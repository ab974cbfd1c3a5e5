/**
 * Static QDQ quantization: rewrites an fp32 model so that every planned tensor passes through
 * QuantizeLinear → DequantizeLinear with calibrated per-tensor parameters, and weights are stored as per-channel
 * symmetric int8 behind a DequantizeLinear (names and layout as onnxruntime's QDQ quantizer writes them:
 * `<t>_scale`, `<t>_zero_point`, `<w>_quantized`). onnxruntime's graph optimizer then fuses the node groups into
 * QLinearConv / QLinearMatMul / QLinearAdd / … where its kernels exist; the graph stays valid ONNX either way.
 */
import { calibrateRanges, type CalibrationOptions, type CalibrationSample } from './calibration.js';
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
  quantizeBias,
  quantizeConstant,
  quantizeWeightPerChannel,
  type QuantParams,
  type Range,
  type WeightScaleMethod,
} from './params.js';
import { planStaticQuantization, type KeepFloat, type QdqPlan } from './plan.js';
import {
  floatTensor,
  int32Tensor,
  quantizedTensor,
  readFloatTensor,
  tensorDims,
  type QuantizedElementType,
  type TensorProto,
} from './tensors.js';

export interface StaticQuantizationOptions {
  /** Activation element type. uint8 (asymmetric) is what ORT's x86 and wasm kernels are built around (U8S8). */
  activationType?: QuantizedElementType;
  /** 7-bit weights, avoiding 16-bit saturation in x86 AVX2 U8S8 kernels (ORT's `reduce_range`). */
  reduceRange?: boolean;
  /** How each weight channel's scale is chosen (default 'absmax', as ORT). */
  weightScaleMethod?: WeightScaleMethod;
  /** Op types to quantize (default: all that plan.ts knows). */
  ops?: readonly string[];
  /** Further restricts the quantized nodes (e.g. isDenseSpatialConv). */
  select?: (node: NodeProto) => boolean;
  keepFloat?: KeepFloat;
}

export interface StaticQuantizationResult {
  model: Uint8Array;
  plan: QdqPlan;
  /** The parameters each quantized activation tensor got. */
  activationParams: Map<string, QuantParams>;
}

/** Rewrites the model per the plan with the given activation ranges (keyed by calibrated tensor). */
export function applyStaticQuantization(
  fp32Onnx: Uint8Array,
  planFor: (index: GraphIndex) => QdqPlan,
  ranges: ReadonlyMap<string, Range>,
  options: StaticQuantizationOptions = {},
): StaticQuantizationResult {
  const activationType = options.activationType ?? 'uint8';
  const model = decodeModel(fp32Onnx);
  const graph = graphOf(model);
  const index = new GraphIndex(graph);
  const plan = planFor(index);
  const namer = new Namer(graph);
  const newInitializers: TensorProto[] = [];
  const leadingNodes: NodeProto[] = [];
  const nodesAfter = new Map<string, NodeProto[]>();

  // Activation parameters: each root's range, shared by the tensors that follow it through data movement.
  const activationParams = new Map<string, QuantParams>();
  const paramInitializers = new Map<string, { scale: string; zeroPoint: string }>();
  const rootOf = (t: string) => plan.sharesParamsWith.get(t) ?? t;
  for (const tensor of plan.tensors) {
    const root = rootOf(tensor);
    const range = plan.fixedRanges.get(root) ?? ranges.get(root);
    if (!range) throw new Error(`no calibrated range for tensor '${root}'`);
    const params = computeQuantParams(range, activationType);
    activationParams.set(tensor, params);
    if (!paramInitializers.has(root)) {
      const scale = namer.fresh(`${root}_scale`);
      const zeroPoint = namer.fresh(`${root}_zero_point`);
      newInitializers.push(
        floatTensor(scale, [], [params.scale]),
        quantizedTensor(zeroPoint, activationType, [], [params.zeroPoint]),
      );
      paramInitializers.set(root, { scale, zeroPoint });
    }
  }

  // Q→DQ after each quantized tensor; consumers read the dequantized value.
  const dequantized = new Map<string, string>();
  for (const tensor of plan.tensors) {
    const { scale, zeroPoint } = paramInitializers.get(rootOf(tensor)) as { scale: string; zeroPoint: string };
    const quantizedName = namer.fresh(`${tensor}_QuantizeLinear_Output`);
    const dequantizedName = namer.fresh(`${tensor}_DequantizeLinear_Output`);
    const pair = [
      makeNode('QuantizeLinear', namer.fresh(`${tensor}_QuantizeLinear`), [tensor, scale, zeroPoint], [quantizedName]),
      makeNode(
        'DequantizeLinear',
        namer.fresh(`${tensor}_DequantizeLinear`),
        [quantizedName, scale, zeroPoint],
        [dequantizedName],
      ),
    ];
    const producer = index.producer.get(tensor);
    if (producer?.name) nodesAfter.set(producer.name, [...(nodesAfter.get(producer.name) ?? []), ...pair]);
    else leadingNodes.push(...pair);
    dequantized.set(tensor, dequantizedName);
  }
  for (const node of graph.node ?? []) {
    node.input = (node.input ?? []).map((input) => dequantized.get(input) ?? input);
  }

  const quantizedSource = new Map([...dequantized].map(([tensor, dq]) => [dq, tensor]));

  // Weights, biases and constant operands of the quantized nodes: integer initializer → DequantizeLinear.
  const dequantizedInitializer = (
    source: string,
    integers: TensorProto,
    scales: Float32Array,
    zeroPoints: TensorProto,
    axis: number | undefined,
  ): string => {
    const scaleName = namer.fresh(`${source}_scale`);
    newInitializers.push(
      integers,
      floatTensor(scaleName, axis === undefined ? [] : [scales.length], scales),
      zeroPoints,
    );
    const output = namer.fresh(`${source}_DequantizeLinear_Output`);
    const attributes = axis === undefined ? [] : [intAttr('axis', axis)];
    leadingNodes.push(
      makeNode(
        'DequantizeLinear',
        namer.fresh(`${source}_DequantizeLinear`),
        [integers.name ?? '', scaleName, zeroPoints.name ?? ''],
        [output],
        attributes,
      ),
    );
    return output;
  };
  const weightCache = new Map<string, { output: string; scales: Float32Array }>();
  const quantizeWeight = (node: NodeProto, name: string) => {
    const cached = weightCache.get(name);
    if (cached) return cached;
    const tensor = index.initializers.get(name) as TensorProto;
    const dims = tensorDims(tensor);
    const weightOptions = { reduceRange: options.reduceRange, scaleMethod: options.weightScaleMethod };
    // QLinearMatMul takes per-column B parameters only for a 2-D B; a batched B is quantized per tensor.
    const perTensor = node.opType === 'MatMul' && dims.length !== 2;
    const axis = perTensor ? undefined : outputChannelAxis(node, dims.length);
    const values = readFloatTensor(tensor);
    const q = quantizeWeightPerChannel(values, perTensor ? [1, values.length] : dims, axis ?? 0, weightOptions);
    const zeroPoints = quantizedTensor(
      namer.fresh(`${name}_zero_point`),
      'int8',
      perTensor ? [] : [q.scales.length],
      new Int8Array(q.scales.length),
    );
    const output = dequantizedInitializer(
      name,
      quantizedTensor(namer.fresh(`${name}_quantized`), 'int8', dims, q.values),
      q.scales,
      zeroPoints,
      axis,
    );
    const result = { output, scales: q.scales };
    weightCache.set(name, result);
    return result;
  };

  for (const node of plan.nodes) {
    const inputs = node.input ?? [];
    if (
      node.opType === 'Conv' ||
      node.opType === 'Gemm' ||
      (node.opType === 'MatMul' && index.isInitializer(inputs[1]))
    ) {
      const inputParams = activationParams.get(quantizedSource.get(inputs[0]) ?? inputs[0]) as QuantParams;
      const weight = quantizeWeight(node, inputs[1]);
      inputs[1] = weight.output;
      const bias = inputs[2];
      if (bias && index.isInitializer(bias)) {
        const q = quantizeBias(
          readFloatTensor(index.initializers.get(bias) as TensorProto),
          inputParams.scale,
          weight.scales,
        );
        const channels = q.values.length;
        const zeroPoints = int32Tensor(namer.fresh(`${bias}_zero_point`), [channels], new Int32Array(channels));
        inputs[2] = dequantizedInitializer(
          bias,
          int32Tensor(namer.fresh(`${bias}_quantized`), [channels], q.values),
          q.scales,
          zeroPoints,
          0,
        );
      }
    } else if (node.opType === 'Add' || node.opType === 'Mul') {
      inputs.forEach((input, i) => {
        if (!index.isInitializer(input)) return;
        const tensor = index.initializers.get(input) as TensorProto;
        const { values, params } = quantizeConstant(readFloatTensor(tensor), activationType);
        const integers = quantizedTensor(namer.fresh(`${input}_quantized`), activationType, tensorDims(tensor), values);
        const zeroPoint = quantizedTensor(namer.fresh(`${input}_zero_point`), activationType, [], [params.zeroPoint]);
        inputs[i] = dequantizedInitializer(input, integers, Float32Array.of(params.scale), zeroPoint, undefined);
      });
    }
  }

  const ordered: NodeProto[] = [...leadingNodes];
  for (const node of graph.node ?? []) {
    ordered.push(node);
    ordered.push(...(nodesAfter.get(node.name ?? '') ?? []));
  }
  // Float initializers that only quantized nodes read are gone from the graph; drop them.
  const used = new Set(ordered.flatMap((n) => n.input ?? []));
  for (const output of graph.output ?? []) used.add(output.name ?? '');
  graph.initializer = [...(graph.initializer ?? []), ...newInitializers].filter((t) => used.has(t.name ?? ''));
  const available = [...index.graphInputs, ...(graph.initializer ?? []).map((t) => t.name ?? '')];
  graph.node = topologicalSort(ordered, available);
  stampProducer(model, 'static QDQ int8');
  return { model: encodeModel(model), plan, activationParams };
}

/** Plan, calibrate on real images, rewrite. */
export async function quantizeStatic(
  fp32Onnx: Uint8Array,
  samples: readonly CalibrationSample[],
  options: StaticQuantizationOptions & { calibration?: CalibrationOptions } = {},
): Promise<StaticQuantizationResult> {
  const planFor = (index: GraphIndex) =>
    planStaticQuantization(index, { ops: options.ops, select: options.select, keepFloat: options.keepFloat });
  const plan = planFor(new GraphIndex(graphOf(decodeModel(fp32Onnx))));
  const ranges =
    plan.calibrated.length > 0
      ? await calibrateRanges(fp32Onnx, plan.calibrated, samples, options.calibration)
      : new Map<string, Range>();
  return applyStaticQuantization(fp32Onnx, planFor, ranges, options);
}
