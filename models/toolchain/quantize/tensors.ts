/**
 * ONNX TensorProto ↔ typed arrays for the quantization passes: read float initializers however they are stored
 * (raw_data or float_data), write int8/uint8/int32/float32 initializers as raw_data (little-endian, as ONNX
 * specifies; every platform this runs on is little-endian, so typed-array views are the wire format).
 */
import type { onnx as OnnxMessages } from 'onnx-proto';
import { TensorDataType } from '../onnx/proto.js';
import { QuantizeError } from './errors.js';

export type TensorProto = OnnxMessages.ITensorProto;

/** protobufjs decodes int64 fields as Long objects (the `long` package is installed) or numbers. */
export function toNumber(value: number | { toNumber(): number } | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

export function tensorDims(tensor: TensorProto): number[] {
  return (tensor.dims ?? []).map(toNumber);
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((n, d) => n * d, 1);
}

/** A copy of `bytes` in a fresh, aligned buffer. */
function alignedCopy(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** The values of a FLOAT tensor. Throws for other element types and for external data. */
export function readFloatTensor(tensor: TensorProto): Float32Array {
  if (tensor.dataType !== TensorDataType.FLOAT)
    throw new Error(`tensor '${tensor.name}' is not float32 (data type ${tensor.dataType})`);
  if (tensor.dataLocation === 1)
    throw new QuantizeError(
      'unsupported-model',
      `tensor '${tensor.name}' uses external data, which the quantizer does not read`,
    );
  const count = elementCount(tensorDims(tensor));
  const raw = tensor.rawData;
  const values =
    raw && raw.byteLength > 0 ? new Float32Array(alignedCopy(raw)) : Float32Array.from(tensor.floatData ?? []);
  if (values.length !== count)
    throw new Error(`tensor '${tensor.name}': ${values.length} values for ${count} elements`);
  return values;
}

/** The values of an INT8, UINT8 or INT32 tensor (as Int32Array, for arithmetic and tests). */
export function readIntegerTensor(tensor: TensorProto): Int32Array {
  const raw = tensor.rawData && tensor.rawData.byteLength > 0 ? tensor.rawData : undefined;
  switch (tensor.dataType) {
    case TensorDataType.INT8:
      return raw ? Int32Array.from(new Int8Array(alignedCopy(raw))) : Int32Array.from(tensor.int32Data ?? []);
    case TensorDataType.UINT8:
      return raw ? Int32Array.from(raw) : Int32Array.from(tensor.int32Data ?? []);
    case TensorDataType.INT32:
      return raw ? new Int32Array(alignedCopy(raw)) : Int32Array.from(tensor.int32Data ?? []);
    default:
      throw new Error(`tensor '${tensor.name}' is not an 8/32-bit integer tensor (data type ${tensor.dataType})`);
  }
}

export type QuantizedElementType = 'int8' | 'uint8';

const DATA_TYPE: Record<QuantizedElementType | 'int32' | 'float32', number> = {
  int8: TensorDataType.INT8,
  uint8: TensorDataType.UINT8,
  int32: TensorDataType.INT32,
  float32: TensorDataType.FLOAT,
};

export function onnxDataType(type: QuantizedElementType | 'int32' | 'float32'): number {
  return DATA_TYPE[type];
}

function rawTensor(
  name: string,
  type: keyof typeof DATA_TYPE,
  dims: readonly number[],
  view: ArrayBufferView,
): TensorProto {
  if (view.byteLength / bytesPerElement(type) !== elementCount(dims)) {
    throw new Error(
      `tensor '${name}': ${view.byteLength / bytesPerElement(type)} values for dims [${dims.join(', ')}]`,
    );
  }
  return {
    name,
    dataType: DATA_TYPE[type],
    dims: [...dims],
    rawData: new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
  };
}

function bytesPerElement(type: keyof typeof DATA_TYPE): number {
  return type === 'int32' || type === 'float32' ? 4 : 1;
}

export function floatTensor(
  name: string,
  dims: readonly number[],
  values: Float32Array | readonly number[],
): TensorProto {
  return rawTensor(name, 'float32', dims, values instanceof Float32Array ? values : Float32Array.from(values));
}

export function int32Tensor(
  name: string,
  dims: readonly number[],
  values: Int32Array | readonly number[],
): TensorProto {
  return rawTensor(name, 'int32', dims, values instanceof Int32Array ? values : Int32Array.from(values));
}

/** An int8 or uint8 tensor from already-rounded, in-range integer values. */
export function quantizedTensor(
  name: string,
  type: QuantizedElementType,
  dims: readonly number[],
  values: ArrayLike<number>,
): TensorProto {
  const data = type === 'int8' ? Int8Array.from(values) : Uint8Array.from(values);
  return rawTensor(name, type, dims, data);
}
