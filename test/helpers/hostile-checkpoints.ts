/**
 * Generators for hostile checkpoints (each one small on disk, costly to a naive reader), shared by
 * the tests and `npm run bench:checkpoint`. Each returns the file's bytes.
 */
import {
  bytesOf,
  deflatedEntry,
  dictPickle,
  float32Bytes,
  OP,
  pickle,
  rawZip,
  safetensorsFile,
  shortStr,
  stateDictPickle,
  storedEntry,
  torchZip,
  zeroCrc32,
  zeroDeflate,
  type RawZipEntry,
  type TensorSpec,
} from './pickle.js';
import { ZipArchive, type ZipEntry } from '../../models/toolchain/checkpoint/zip.js';

const weights = stateDictPickle([{ name: 'w', storageType: 'FloatStorage', key: '0', numel: 2, size: [2] }]);
const withWeights = (dataPkl: Uint8Array) => torchZip(dataPkl, { '0': float32Bytes([1, 2]) });

/** `{model: <weights>, ((…((),)…),): None}`: a dict key that is a tuple nested `depth` deep. */
export function deeplyNestedKey(depth: number): Uint8Array {
  const key = bytesOf(OP.EMPTY_TUPLE, new Uint8Array(depth).fill(OP.TUPLE1));
  return withWeights(pickle(2, OP.EMPTY_DICT, OP.MARK, shortStr('model'), weights, key, OP.NONE, OP.SETITEMS));
}

/**
 * `{model: <weights>, l0: None}` where the key l0 ∋ l1 ∋ … ∋ l(depth-1), but every list is put into its parent while
 * still empty and filled only afterwards, through the memo: nesting that a depth count taken at insertion misses.
 */
export function nestedAfterInsertion(depth: number): Uint8Array {
  const memo = (i: number) => [0x72, i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24]; // LONG_BINPUT
  const get = (i: number) => [0x6a, i & 0xff, (i >>> 8) & 0xff, (i >>> 16) & 0xff, i >>> 24]; // LONG_BINGET
  const lists: number[] = [];
  for (let i = 0; i < depth; i++) lists.push(OP.EMPTY_LIST, ...memo(i), OP.POP);
  // l(i).append(l(i+1)) for i from the top down: each parent is already complete when its child grows.
  const links: number[] = [];
  for (let i = 0; i < depth - 1; i++) links.push(...get(i), ...get(i + 1), OP.APPEND, OP.POP);
  return withWeights(
    pickle(2, bytesOf(lists, links), OP.EMPTY_DICT, OP.MARK, shortStr('model'), weights, get(0), OP.NONE, OP.SETITEMS),
  );
}

/** A torch.save-shaped archive from raw entries: data.pkl and version stored, the records as given. */
export function torchArchive(dataPkl: Uint8Array, records: RawZipEntry[]): Uint8Array {
  return rawZip([
    storedEntry('archive/data.pkl', dataPkl),
    ...records.map((record) => ({ ...record, name: `archive/data/${record.name}` })),
    storedEntry('archive/version', new TextEncoder().encode('3\n')),
  ]);
}

const modelPickle = (tensors: TensorSpec[]) => pickle(2, dictPickle([['model', stateDictPickle(tensors)]]));

export interface BombOptions {
  /** What the deflate stream of storage record '0' really inflates to (zeros). */
  inflatesTo: number;
  /** What the zip headers say it inflates to (default: the truth). */
  declares?: number;
  /** Elements of the storage the pickle declares (default: the record's declared size in floats). */
  storageNumel?: number;
}

/**
 * One tensor of 216 floats (864 bytes, a 3×3 stem conv's worth) on a deflated record of zeros that inflates to
 * `inflatesTo` bytes: a 14 MB checkpoint whose one storage inflates to 4 GiB.
 */
export function inflationBomb({
  inflatesTo,
  declares = inflatesTo,
  storageNumel = Math.floor(declares / 4),
}: BombOptions): Uint8Array {
  const tensor: TensorSpec = { name: 'w', storageType: 'FloatStorage', key: '0', numel: storageNumel, size: [216] };
  const record: RawZipEntry = {
    name: '0',
    data: zeroDeflate(inflatesTo),
    method: 8,
    size: declares,
    crc32: zeroCrc32(declares),
  };
  return torchArchive(modelPickle([tensor]), [record]);
}

/**
 * `count` tensors of `floatsEach` floats tiling one deflated storage: "580 tensors on one 64 MiB deflated
 * storage". Zeros (cheap to make at any size) or a ramp 0, 1, 2, … (to check every view reads its own part).
 */
export function manyViewsOfOneStorage(count: number, floatsEach: number, content: 'zeros' | 'ramp'): Uint8Array {
  const numel = count * floatsEach;
  const tensors: TensorSpec[] = Array.from({ length: count }, (_, i) => ({
    name: `t${i}`,
    storageType: 'FloatStorage',
    key: '0',
    numel,
    offset: i * floatsEach,
    size: [floatsEach],
  }));
  const record: RawZipEntry =
    content === 'zeros'
      ? { name: '0', data: zeroDeflate(numel * 4), method: 8, size: numel * 4, crc32: zeroCrc32(numel * 4) }
      : deflatedEntry('0', new Uint8Array(Float32Array.from({ length: numel }, (_, i) => i).buffer));
  return torchArchive(modelPickle(tensors), [record]);
}

/** A one-tensor .pth whose weights hold `value` (NaN, ±Infinity) among ordinary ones. */
export function pthWithValue(value: number): Uint8Array {
  const tensor: TensorSpec = { name: 'w', storageType: 'FloatStorage', key: '0', numel: 4, size: [4] };
  return torchZip(modelPickle([tensor]), { '0': float32Bytes([0.5, value, -0.25, 1]) });
}

/** A one-tensor safetensors file whose weights hold `value`. */
export function safetensorsWithValue(value: number): Uint8Array {
  return safetensorsFile(
    { w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } },
    float32Bytes([0.5, -0.25, 1, value]),
  );
}

/** A .pth whose float32 record is declared a HalfStorage of as many elements (a mutated storage type). */
export function pthDeclaredHalf(): Uint8Array {
  const tensor: TensorSpec = { name: 'w', storageType: 'HalfStorage', key: '0', numel: 4, size: [4] };
  return torchZip(modelPickle([tensor]), { '0': float32Bytes([0.5, -0.25, 1, 2]) });
}

/** Where tensor `name`'s bytes start in a safetensors file. */
export function safetensorsOffset(file: Uint8Array, name: string): number {
  const headerLength = Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + headerLength))) as Record<
    string,
    { data_offsets: [number, number] }
  >;
  return 8 + headerLength + header[name].data_offsets[0];
}

/** A copy of `file` with one bit flipped. */
export function flipBit(file: Uint8Array, byte: number, bit: number): Uint8Array {
  const out = file.slice();
  out[byte] ^= 1 << bit;
  return out;
}

/** A copy of a zip with each entry's data replaced by `edit` (given the entry and its bytes), all stored but those it returns whole. */
function rewriteArchive(
  pth: Uint8Array,
  edit: (entry: ZipEntry, data: Uint8Array) => Uint8Array | RawZipEntry,
): Uint8Array {
  const zip = new ZipArchive(pth);
  return rawZip(
    [...zip.entries.values()].map((entry) => {
      const result = edit(entry, zip.read(entry));
      return result instanceof Uint8Array ? storedEntry(entry.name, result) : result;
    }),
  );
}

/** The one storage record of `bytes` bytes in a torch.save zip (e.g. 864: M0's stem conv). */
function recordOfSize(pth: Uint8Array, bytes: number): ZipEntry {
  const records = [...new ZipArchive(pth).entries.values()].filter(
    (e) => /\/data\/[^/]+$/.test(e.name) && e.size === bytes,
  );
  if (records.length !== 1) throw new Error(`${records.length} records of ${bytes} bytes, not one`);
  return records[0];
}

/**
 * A real checkpoint with its one storage record of `recordBytes` bytes rewritten as a deflated record of its own
 * bytes followed by zeros up to `inflatesTo`, declared honestly, everything else kept: the "14 MB checkpoint
 * whose one storage inflates to 4 GiB", which a reader that inflates whole records accepts, since the tensor's
 * bytes come first.
 */
export function bloatRecord(pth: Uint8Array, recordBytes: number, inflatesTo: number): Uint8Array {
  const target = recordOfSize(pth, recordBytes).name;
  return rewriteArchive(pth, (entry, data) => {
    if (entry.name !== target) return data;
    const zeros = inflatesTo - data.length;
    return {
      name: entry.name,
      data: zeroDeflate(zeros, data),
      method: 8,
      size: inflatesTo,
      crc32: zeroCrc32(zeros, data),
    };
  });
}

/** A real checkpoint whose record of `recordBytes` bytes holds `value` as its first float32, checksums intact (as a diverged run saves). */
export function withFirstFloat(pth: Uint8Array, recordBytes: number, value: number): Uint8Array {
  const target = recordOfSize(pth, recordBytes).name;
  return rewriteArchive(pth, (entry, data) => {
    if (entry.name !== target) return data;
    const out = data.slice();
    new DataView(out.buffer).setFloat32(0, value, true);
    return out;
  });
}

/** A real checkpoint whose pickle calls every FloatStorage a HalfStorage (checksums intact): a storage declared float16. */
export function floatStoragesAsHalf(pth: Uint8Array): Uint8Array {
  return rewriteArchive(pth, (entry, data) => {
    if (!entry.name.endsWith('/data.pkl')) return data;
    const text = Buffer.from(data).toString('latin1');
    if (!text.includes('\nFloatStorage\n')) throw new Error('no FloatStorage global in data.pkl');
    return Uint8Array.from(Buffer.from(text.replace('\nFloatStorage\n', '\nHalfStorage\n'), 'latin1'));
  });
}
