import { CheckpointError, type StateDict, type Tensor, type TensorValues } from './types.js';

// Provisional minimal reader (official-key safetensors); the checkpoint module owner replaces/extends this.
const DTYPES: Record<string, { bytes: number; read: (buf: ArrayBuffer, n: number) => TensorValues }> = {
  F32: { bytes: 4, read: (b) => new Float32Array(b) },
  F64: { bytes: 8, read: (b) => new Float64Array(b) },
  I64: { bytes: 8, read: (b) => new BigInt64Array(b) },
  I32: { bytes: 4, read: (b) => new Int32Array(b) },
};

export function readSafetensors(bytes: Uint8Array): StateDict {
  if (bytes.byteLength < 8) throw new CheckpointError('truncated', 'safetensors file shorter than its header length');
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + headerLength > bytes.byteLength) throw new CheckpointError('truncated', 'safetensors header runs past the end of the file');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, any>;
  const dataStart = 8 + headerLength;
  const out: StateDict = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const dt = DTYPES[info.dtype];
    if (!dt) throw new CheckpointError('unknown-dtype', `tensor ${name}: unsupported dtype ${info.dtype}`);
    const [begin, end] = info.data_offsets as [number, number];
    if (dataStart + end > bytes.byteLength) throw new CheckpointError('truncated', `tensor ${name} runs past the end of the file`);
    const copy = bytes.slice(dataStart + begin, dataStart + end).buffer;
    const tensor: Tensor = { dtype: info.dtype, shape: info.shape, data: dt.read(copy, (end - begin) / dt.bytes) };
    out.set(name, tensor);
  }
  return out;
}
