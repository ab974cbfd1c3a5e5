/**
 * safetensors: u64 little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__?},
 * then the tensor bytes. Validated as the reference implementation does: bounded header, offsets that tile the
 * data exactly (no gaps, no overlaps, nothing past the end), and byte lengths that match dtype × shape.
 * Names come back as stored; mapping timm names to official ones is models/efficientvit.ts's job (toOfficialNames).
 */
import { decodeElements, DTYPE_BYTES, elementCount, isDimension, type DType } from './dtypes.js';
import { CheckpointError, type StateDict } from '../../state-dict.js';

/** The reference implementation refuses headers above 100 MB; so do we, before allocating anything. */
export const MAX_SAFETENSORS_HEADER = 100_000_000;

const DTYPES: Readonly<Record<string, DType>> = Object.freeze({
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
});

export interface SafetensorsContents {
  stateDict: StateDict;
  /** The optional `__metadata__` string map. */
  metadata: Record<string, string>;
}

/** Reads the tensors under the names the file uses. */
export function readSafetensors(bytes: Uint8Array): StateDict {
  return readSafetensorsFile(bytes).stateDict;
}

export function readSafetensorsFile(bytes: Uint8Array): SafetensorsContents {
  if (bytes.byteLength < 8)
    throw new CheckpointError('truncated', 'safetensors file shorter than its 8-byte header length');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_SAFETENSORS_HEADER)) {
    throw new CheckpointError(
      'header-too-large',
      `safetensors header claims ${headerLength} bytes (limit ${MAX_SAFETENSORS_HEADER})`,
    );
  }
  const dataStart = 8 + Number(headerLength);
  if (dataStart > bytes.byteLength)
    throw new CheckpointError('truncated', 'safetensors header runs past the end of the file');

  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes.subarray(8, dataStart)),
    );
  } catch (error) {
    throw new CheckpointError('corrupt-header', `safetensors header is not JSON: ${(error as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new CheckpointError('corrupt-header', 'safetensors header is not a JSON object');
  }

  const dataLength = bytes.byteLength - dataStart;
  const metadata = readMetadata((header as Record<string, unknown>).__metadata__);
  const layout: { name: string; dtype: DType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (typeof info !== 'object' || info === null)
      throw new CheckpointError('corrupt-header', `tensor ${name}: entry is not an object`);
    const { dtype: code, shape, data_offsets: offsets } = info as Record<string, unknown>;
    const dtype = typeof code === 'string' ? DTYPES[code] : undefined;
    if (!dtype || !Object.hasOwn(DTYPES, code as string))
      throw new CheckpointError('unknown-dtype', `tensor ${name}: unsupported dtype ${JSON.stringify(code)}`);
    if (!Array.isArray(shape) || !shape.every(isDimension))
      throw new CheckpointError('corrupt-header', `tensor ${name}: shape is not a list of sizes`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isDimension) || offsets[0] > offsets[1]) {
      throw new CheckpointError('corrupt-tensor', `tensor ${name}: data_offsets is not an ordered [begin, end] pair`);
    }
    const [begin, end] = offsets as [number, number];
    const numel = elementCount(shape);
    if (numel === undefined || numel * DTYPE_BYTES[dtype] !== end - begin) {
      throw new CheckpointError(
        'corrupt-tensor',
        `tensor ${name}: ${end - begin} bytes do not hold ${dtype} [${shape}]`,
      );
    }
    layout.push({ name, dtype, shape, begin, end });
  }

  // Offsets must tile [0, dataLength) exactly: each tensor starts where the previous one ended.
  const byOffset = [...layout].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  for (const tensor of byOffset) {
    if (tensor.begin !== expected) {
      throw new CheckpointError(
        'corrupt-tensor',
        `tensor ${tensor.name}: data_offsets ${tensor.begin < expected ? 'overlap another tensor' : 'leave a gap'} at byte ${tensor.begin}`,
      );
    }
    expected = tensor.end;
  }
  if (expected > dataLength)
    throw new CheckpointError('truncated', `safetensors data ends at byte ${dataLength}, tensors need ${expected}`);
  if (expected !== dataLength)
    throw new CheckpointError('corrupt-tensor', `safetensors has ${dataLength - expected} bytes after its last tensor`);

  const stateDict: StateDict = new Map();
  for (const { name, dtype, shape, begin, end } of layout) {
    const data = decodeElements(
      dtype,
      bytes.subarray(dataStart + begin, dataStart + end),
      (end - begin) / DTYPE_BYTES[dtype],
    );
    stateDict.set(name, { dtype, shape, data });
  }
  return { stateDict, metadata };
}

function readMetadata(value: unknown): Record<string, string> {
  if (value === undefined) return {};
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    !Object.values(value).every((v) => typeof v === 'string')
  ) {
    throw new CheckpointError('corrupt-header', 'safetensors __metadata__ is not a string → string map');
  }
  return { ...(value as Record<string, string>) };
}
