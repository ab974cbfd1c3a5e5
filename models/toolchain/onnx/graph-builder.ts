/**
 * A small builder for ONNX graphs on top of the onnx-proto messages: named initializers, nodes with typed
 * attributes, graph inputs/outputs with symbolic dims, and serialization with opset and metadata.
 */
import type { onnx as OnnxMessages } from 'onnx-proto';
import { AttributeType, onnx, TensorDataType } from './proto.js';

/** Integers become INT/INTS, `{ f }` FLOAT, strings STRING. Floats must be wrapped so 1.0 is not taken for an int. */
export type AttributeValue = number | number[] | string | { f: number };

export type ElementType = 'float32' | 'int64';

const ELEMENT_TYPES: Record<ElementType, number> = { float32: TensorDataType.FLOAT, int64: TensorDataType.INT64 };

export interface ModelOptions {
  opset: number;
  producerName: string;
  producerVersion?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

/** IR version 8 is what opset 17 requires (and the newest onnx-proto 8 knows). */
const IR_VERSION = 8;

export class GraphBuilder {
  private readonly nodes: OnnxMessages.INodeProto[] = [];
  private readonly initializers: OnnxMessages.ITensorProto[] = [];
  private readonly inputs: OnnxMessages.IValueInfoProto[] = [];
  private readonly outputs: OnnxMessages.IValueInfoProto[] = [];
  private readonly usedNames = new Set<string>();
  private readonly int64Constants = new Map<string, string>();
  private scope = '';

  constructor(readonly graphName: string) {}

  /** A fresh value name based on `hint` (hints may repeat; names never do). */
  uniqueName(hint: string): string {
    let name = hint;
    for (let i = 1; this.usedNames.has(name); i++) name = `${hint}_${i}`;
    this.usedNames.add(name);
    return name;
  }

  addInput(name: string, type: ElementType, dims: (number | string)[]): string {
    this.usedNames.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  /** Marks an existing value as a graph output under its own name; without `dims` its shape is left to inference. */
  addOutput(name: string, type: ElementType, dims?: (number | string)[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** A float32 constant tensor; float64 values are rounded to float32 here, once. */
  addFloatInitializer(hint: string, values: Float64Array | Float32Array | number[], dims: readonly number[]): string {
    const count = dims.reduce((n, d) => n * d, 1);
    if (values.length !== count)
      throw new Error(`initializer ${hint}: ${values.length} values for dims [${dims.join(', ')}]`);
    const f32 = values instanceof Float32Array ? values : Float32Array.from(values);
    return this.addRawInitializer(hint, 'float32', new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength), dims);
  }

  /** An int64 constant (shapes, axes, split sizes), shared between all nodes that use the same values. */
  int64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const key = `${dims.join('x')}:${values.join(',')}`;
    const existing = this.int64Constants.get(key);
    if (existing) return existing;
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    const name = this.addRawInitializer(
      `const_${values.join('_').replace(/-/g, 'm')}`.slice(0, 60),
      'int64',
      new Uint8Array(data.buffer),
      dims,
    );
    this.int64Constants.set(key, name);
    return name;
  }

  private addRawInitializer(hint: string, type: ElementType, bytes: Uint8Array, dims: readonly number[]): string {
    const name = this.uniqueName(hint);
    this.initializers.push({ name, dataType: ELEMENT_TYPES[type], dims: [...dims], rawData: bytes });
    return name;
  }

  /**
   * Runs `build` with `prefix` (e.g. a module's state-dict prefix) prepended to the default names of the nodes it
   * adds, so that profiles attribute every node to its layer.
   */
  scoped<T>(prefix: string, build: () => T): T {
    const outer = this.scope;
    this.scope = prefix;
    try {
      return build();
    } finally {
      this.scope = outer;
    }
  }

  /** Adds one node; returns its output names (`outputs` of them, named after `hint`). */
  nodeMulti(
    opType: string,
    inputs: readonly string[],
    outputs: number,
    attributes: Record<string, AttributeValue> = {},
    hint?: string,
  ): string[] {
    hint ??= this.scope ? `${this.scope}/${opType}` : opType;
    const outNames = Array.from({ length: outputs }, (_, i) => this.uniqueName(outputs === 1 ? hint : `${hint}_${i}`));
    this.nodes.push({
      opType,
      name: this.uniqueName(`${hint}_node`),
      input: [...inputs],
      output: outNames,
      attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
    });
    return outNames;
  }

  /** Adds a single-output node and returns its output name. */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue> = {},
    hint?: string,
  ): string {
    return this.nodeMulti(opType, inputs, 1, attributes, hint)[0];
  }

  get nodeCount(): number {
    return this.nodes.length;
  }

  /** Serializes the model (ONNX ModelProto bytes). */
  toBytes(options: ModelOptions): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: options.opset }],
      producerName: options.producerName,
      producerVersion: options.producerVersion ?? '',
      docString: options.docString ?? '',
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, type: ElementType, dims?: (number | string)[]): OnnxMessages.IValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType: { elemType: ELEMENT_TYPES[type], ...(shape ? { shape } : {}) } } };
}

function attribute(name: string, value: AttributeValue): OnnxMessages.IAttributeProto {
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) {
    if (!value.every(Number.isInteger)) throw new Error(`attribute ${name}: INTS must be integers`);
    return { name, type: AttributeType.INTS, ints: value };
  }
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: wrap float values as { f: ${value} }`);
    return { name, type: AttributeType.INT, i: value };
  }
  return { name, type: AttributeType.FLOAT, f: value.f };
}
