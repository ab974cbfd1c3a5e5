/**
 * A tiny but real ONNX image classifier for service tests: GlobalAveragePool → Flatten → Gemm to `classes` logits,
 * input `input` float32 [N, 3, 224, 224] (N dynamic), output `logits` [N, classes]. Its logits are an affine function
 * of the three per-channel means of the preprocessed image, so a test can compute the exact expected scores of a
 * solid-colour image without running a model.
 */
import onnxProto from 'onnx-proto';
import { seededRandom } from './random.js';

// onnx-proto is CommonJS: its namespace arrives as the default export under Node's ESM loader.
const { onnx } = onnxProto;

export interface TinyClassifier {
  /** Serialized ModelProto. */
  onnx: Uint8Array;
  classes: number;
  /** Gemm B, row-major [3, classes]: logits[j] = Σ_c mean_c · weights[c·classes + j] + bias[j]. */
  weights: number[];
  bias: number[];
}

/** Deterministic weights (mulberry32), spread so that different colours win different classes. */
export function tinyClassifierParameters(classes: number, seed: number): { weights: number[]; bias: number[] } {
  const next = seededRandom(seed).uniform;
  // Rounded to float32 so the test's expectation uses exactly the weights the model holds.
  const f32 = (x: number) => Math.fround(x);
  const weights = Array.from({ length: 3 * classes }, () => f32((next() * 2 - 1) * 3));
  const bias = Array.from({ length: classes }, () => f32((next() * 2 - 1) * 0.5));
  return { weights, bias };
}

export function buildTinyClassifier(options: { classes?: number; seed?: number; size?: number } = {}): TinyClassifier {
  const classes = options.classes ?? 1000;
  const size = options.size ?? 224;
  const { weights, bias } = tinyClassifierParameters(classes, options.seed ?? 1);
  const floatTensor = (name: string, dims: number[], values: number[]) =>
    onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: values });
  const valueInfo = (name: string, dims: (number | string)[]) =>
    onnx.ValueInfoProto.create({
      name,
      type: {
        tensorType: {
          elemType: onnx.TensorProto.DataType.FLOAT,
          shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
        },
      },
    });
  const graph = onnx.GraphProto.create({
    name: 'tiny_classifier',
    input: [valueInfo('input', ['N', 3, size, size])],
    output: [valueInfo('logits', ['N', classes])],
    initializer: [floatTensor('W', [3, classes], weights), floatTensor('b', [classes], bias)],
    node: [
      onnx.NodeProto.create({ opType: 'GlobalAveragePool', input: ['input'], output: ['pooled'], name: 'pool' }),
      onnx.NodeProto.create({
        opType: 'Flatten',
        input: ['pooled'],
        output: ['features'],
        name: 'flatten',
        attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
      }),
      onnx.NodeProto.create({ opType: 'Gemm', input: ['features', 'W', 'b'], output: ['logits'], name: 'fc' }),
    ],
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'efficientvit-edge test/helpers/tiny-model.ts',
    opsetImport: [{ domain: '', version: 17 }],
    graph,
  });
  return { onnx: onnx.ModelProto.encode(model).finish(), classes, weights, bias };
}
