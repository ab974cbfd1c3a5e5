import { CheckpointError, type TensorValues } from '../../state-dict.js';

/** Element types both checkpoint formats can hold, named as torch names them. */
export type DType =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

export const DTYPE_BYTES: Readonly<Record<DType, number>> = Object.freeze({
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
});

// Typed arrays use the host's byte order; both formats store little-endian, so refuse to misread on a big-endian host.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('checkpoint readers assume a little-endian host');
}

/**
 * Copies `count` elements of `dtype` out of `bytes` (which must hold at least that many) into a new, aligned array.
 * float16/bfloat16 are widened to Float32Array and bool becomes 0/1 bytes. `bigEndian` swaps each element first.
 */
export function decodeElements(dtype: DType, bytes: Uint8Array, count: number, bigEndian = false): TensorValues {
  const size = DTYPE_BYTES[dtype];
  const byteLength = count * size;
  if (bytes.byteLength < byteLength) {
    throw new CheckpointError('corrupt-tensor', `need ${byteLength} bytes of ${dtype}, have ${bytes.byteLength}`);
  }
  // A fresh, 0-offset buffer keeps the views below aligned whatever the source alignment was. (Not .slice():
  // on a Node Buffer that returns a view.)
  const copy = new Uint8Array(byteLength);
  copy.set(bytes.subarray(0, byteLength));
  if (bigEndian && size > 1) swapBytes(copy, size);
  const buffer = copy.buffer;
  switch (dtype) {
    case 'float32':
      return new Float32Array(buffer);
    case 'float64':
      return new Float64Array(buffer);
    case 'int64':
      return new BigInt64Array(buffer);
    case 'int32':
      return new Int32Array(buffer);
    case 'int16':
      return new Int16Array(buffer);
    case 'int8':
      return new Int8Array(buffer);
    case 'uint8':
      return copy;
    case 'bool':
      // Any non-zero byte is true; normalize so consumers can rely on 0/1.
      for (let i = 0; i < copy.length; i++) copy[i] = copy[i] ? 1 : 0;
      return copy;
    case 'float16':
      return widenHalf(new Uint16Array(buffer));
    case 'bfloat16':
      return widenBfloat16(new Uint16Array(buffer));
  }
}

function swapBytes(bytes: Uint8Array, size: number): void {
  for (let start = 0; start < bytes.length; start += size) {
    for (let i = 0, j = size - 1; i < j; i++, j--) {
      const t = bytes[start + i];
      bytes[start + i] = bytes[start + j];
      bytes[start + j] = t;
    }
  }
}

let halfTable: Float32Array | undefined;

/** IEEE 754 binary16 → float32 via a 64K-entry table (every half value is exactly representable in float32). */
function widenHalf(halves: Uint16Array): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exponent = (h >> 10) & 0x1f;
      const fraction = h & 0x3ff;
      halfTable[h] =
        exponent === 0
          ? sign * fraction * 2 ** -24
          : exponent === 31
            ? fraction
              ? NaN
              : sign * Infinity
            : sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
    }
  }
  const out = new Float32Array(halves.length);
  for (let i = 0; i < halves.length; i++) out[i] = halfTable[halves[i]];
  return out;
}

/** bfloat16 is the top half of a float32, so widening is a shift. */
function widenBfloat16(halves: Uint16Array): Float32Array {
  const bits = new Uint32Array(halves.length);
  for (let i = 0; i < halves.length; i++) bits[i] = halves[i] << 16;
  return new Float32Array(bits.buffer);
}

/** Product of dimensions, or undefined when it is not a safe integer (a hostile shape). */
export function elementCount(shape: readonly number[]): number | undefined {
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    if (!Number.isSafeInteger(count)) return undefined;
  }
  return count;
}

export function isDimension(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
