/**
 * Test-only builders for checkpoint files from raw bytes: pickle opcodes, torch.save-style zips (fflate, store
 * mode) and safetensors files. They let tests craft exactly the valid, hostile and broken inputs they need.
 */
import { crc32, deflateRawSync } from 'node:zlib';
import { zipSync } from 'fflate';

export const OP = {
  MARK: 0x28,
  STOP: 0x2e,
  POP: 0x30,
  DUP: 0x32,
  NONE: 0x4e,
  BINPERSID: 0x51,
  REDUCE: 0x52,
  APPEND: 0x61,
  BUILD: 0x62,
  EMPTY_DICT: 0x7d,
  APPENDS: 0x65,
  EMPTY_LIST: 0x5d,
  SETITEM: 0x73,
  SETITEMS: 0x75,
  TUPLE: 0x74,
  EMPTY_TUPLE: 0x29,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  OBJ: 0x6f,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  BINGET: 0x68,
  BINPUT: 0x71,
} as const;

type Part = number | Uint8Array | readonly Part[];

/** Concatenates opcodes (numbers are single bytes), encoded arguments and nested parts. */
export function bytesOf(...parts: Part[]): Uint8Array {
  const out: number[] = [];
  const add = (part: Part) => {
    if (typeof part === 'number') out.push(part);
    else if (part instanceof Uint8Array)
      for (const byte of part) out.push(byte); // no spread: parts may be megabytes
    else part.forEach(add);
  };
  parts.forEach(add);
  return Uint8Array.from(out);
}

/** PROTO n … STOP */
export function pickle(protocol: number, ...body: Part[]): Uint8Array {
  return bytesOf(0x80, protocol, ...body, OP.STOP);
}

const utf8 = (text: string) => new TextEncoder().encode(text);

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** BINUNICODE */
export const str = (text: string): Uint8Array => {
  const data = utf8(text);
  return bytesOf(0x58, u32(data.length), data);
};
/** SHORT_BINUNICODE */
export const shortStr = (text: string): Uint8Array => {
  const data = utf8(text);
  return bytesOf(0x8c, data.length, data);
};
/** BININT for 32-bit values, LONG1 (little-endian two's complement) beyond. */
export const int = (n: number | bigint): Uint8Array => {
  if (typeof n === 'number' && n >= -(2 ** 31) && n < 2 ** 31) return bytesOf(0x4a, u32(n));
  const bytes: number[] = [];
  let rest = BigInt(n);
  do {
    bytes.push(Number(rest & 0xffn));
    rest >>= 8n;
  } while (!(rest === 0n && !(bytes[bytes.length - 1] & 0x80)) && !(rest === -1n && bytes[bytes.length - 1] & 0x80));
  return bytesOf(0x8a, bytes.length, bytes);
};
/** GLOBAL 'module name' */
export const global = (module: string, name: string): Uint8Array => bytesOf(0x63, utf8(`${module}\n${name}\n`));
/** SHORT_BINUNICODE module, SHORT_BINUNICODE name, STACK_GLOBAL */
export const stackGlobal = (module: string, name: string): Uint8Array =>
  bytesOf(shortStr(module), shortStr(name), OP.STACK_GLOBAL);
/** INST 'module name' with the arguments pushed since a MARK */
export const inst = (module: string, name: string): Uint8Array => bytesOf(0x69, utf8(`${module}\n${name}\n`));
/** MARK items… TUPLE */
export const tuple = (...items: Part[]): Uint8Array => bytesOf(OP.MARK, ...items, OP.TUPLE);

export interface TensorSpec {
  name: string;
  /** e.g. 'FloatStorage', 'HalfStorage', or a dtype global like 'float32'; module 'torch'. */
  storageType: string;
  storageModule?: string;
  key: string;
  numel: number;
  offset?: number;
  size: number[];
  stride?: number[];
}

function contiguousStride(size: number[]): number[] {
  const stride = new Array<number>(size.length);
  let step = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    stride[d] = step;
    step *= size[d];
  }
  return stride;
}

/** `_rebuild_tensor_v2(('storage', torch.<type>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())` */
export function tensorPickle(spec: TensorSpec): Uint8Array {
  return bytesOf(
    global('torch._utils', '_rebuild_tensor_v2'),
    tuple(
      tuple(
        str('storage'),
        global(spec.storageModule ?? 'torch', spec.storageType),
        str(spec.key),
        str('cpu'),
        int(spec.numel),
      ),
      OP.BINPERSID,
      int(spec.offset ?? 0),
      tuple(...spec.size.map(int)),
      tuple(...(spec.stride ?? contiguousStride(spec.size)).map(int)),
      OP.NEWFALSE,
      global('collections', 'OrderedDict'),
      OP.EMPTY_TUPLE,
      OP.REDUCE,
    ),
    OP.REDUCE,
  );
}

/** An OrderedDict of tensors, as model.state_dict() pickles. */
export function stateDictPickle(tensors: TensorSpec[]): Uint8Array {
  return bytesOf(
    global('collections', 'OrderedDict'),
    OP.EMPTY_TUPLE,
    OP.REDUCE,
    OP.MARK,
    ...tensors.map((t) => [str(t.name), tensorPickle(t)]),
    OP.SETITEMS,
  );
}

/** `{key: value, …}` from already-encoded parts. */
export function dictPickle(entries: [string, Part][]): Uint8Array {
  return bytesOf(OP.EMPTY_DICT, OP.MARK, ...entries.map(([k, v]) => [str(k), v]), OP.SETITEMS);
}

export interface TorchZipOptions {
  prefix?: string;
  byteorder?: 'little' | 'big';
  /** Deflate the entries instead of storing them (torch never does; re-zipped files may). */
  deflate?: boolean;
}

/** A torch.save-shaped zip: `<prefix>/data.pkl`, `<prefix>/data/<key>`, `<prefix>/version`. */
export function torchZip(
  dataPkl: Uint8Array,
  records: Record<string, Uint8Array>,
  options: TorchZipOptions = {},
): Uint8Array {
  const prefix = options.prefix ?? 'archive';
  const files: Record<string, Uint8Array> = { [`${prefix}/data.pkl`]: dataPkl };
  if (options.byteorder) files[`${prefix}/byteorder`] = utf8(options.byteorder);
  for (const [key, data] of Object.entries(records)) files[`${prefix}/data/${key}`] = data;
  files[`${prefix}/version`] = utf8('3\n');
  return zipSync(files, { level: options.deflate ? 6 : 0 });
}

export const float32Bytes = (values: number[]): Uint8Array => new Uint8Array(Float32Array.from(values).buffer);

/** A safetensors file from a header object (or raw header text) and data, with an optional lying length field. */
export function safetensorsFile(header: object | string, data: Uint8Array, headerLength?: bigint): Uint8Array {
  const json = utf8(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

export interface RawZipEntry {
  name: string;
  /** The bytes as stored in the archive (already deflated for method 8). */
  data: Uint8Array;
  method: 0 | 8;
  /** The uncompressed size and CRC-32 the headers declare: whatever a test wants them to claim. */
  size: number;
  crc32: number;
}

/**
 * A zip written field by field, so that a test can make an entry claim any size or checksum (fflate's zipSync
 * always tells the truth). Sizes must stay below 4 GiB: no zip64.
 */
export function rawZip(entries: RawZipEntry[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = utf8(entry.name);
    const header = (signature: number, central: boolean) => {
      const out = new Uint8Array((central ? 46 : 30) + name.length);
      const view = new DataView(out.buffer);
      let at = 0;
      const u16 = (v: number) => (view.setUint16(at, v, true), (at += 2));
      const u32 = (v: number) => (view.setUint32(at, v >>> 0, true), (at += 4));
      u32(signature);
      if (central) u16(20); // version made by
      u16(20); // version needed
      u16(0); // flags
      u16(entry.method);
      u32(0); // time, date
      u32(entry.crc32);
      u32(entry.data.length);
      u32(entry.size);
      u16(name.length);
      u16(0); // extra
      if (central) {
        u16(0); // comment
        u16(0); // disk
        u16(0); // internal attributes
        u32(0); // external attributes
        u32(offset);
      }
      out.set(name, at);
      return out;
    };
    const local = header(0x04034b50, false);
    locals.push(local, entry.data);
    centrals.push(header(0x02014b50, true));
    offset += local.length + entry.data.length;
  }
  const directorySize = centrals.reduce((sum, c) => sum + c.length, 0);
  const end = new Uint8Array(22);
  const view = new DataView(end.buffer);
  view.setUint32(0, 0x06054b50, true);
  view.setUint16(8, entries.length, true);
  view.setUint16(10, entries.length, true);
  view.setUint32(12, directorySize, true);
  view.setUint32(16, offset, true);
  const parts = [...locals, ...centrals, end];
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A stored entry that tells the truth about itself. */
export function storedEntry(name: string, data: Uint8Array): RawZipEntry {
  return { name, data, method: 0, size: data.length, crc32: crc32(data) };
}

/** A deflated entry that tells the truth about itself. */
export function deflatedEntry(name: string, data: Uint8Array): RawZipEntry {
  return { name, data: deflateRawSync(data), method: 8, size: data.length, crc32: crc32(data) };
}

/**
 * A raw deflate stream that inflates to `prefix` (at most 65,535 bytes, as one stored block) followed by `size`
 * zero bytes, written directly (one fixed-Huffman block: a literal 0, then <length 258, distance 1> copies at 13
 * bits each), so a 4 GiB bomb takes a second to make, not minutes.
 */
export function zeroDeflate(size: number, prefix: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (prefix.length > 0xffff) throw new Error('prefix longer than one stored block');
  const copies = Math.max(0, Math.floor((size - 1) / 258));
  const literals = size === 0 ? 0 : size - copies * 258;
  const stored = prefix.length ? 5 + prefix.length : 0;
  const out = new Uint8Array(stored + Math.ceil((3 + 8 * literals + 13 * copies + 7) / 8) + 1);
  if (prefix.length) {
    // BFINAL 0, BTYPE 00, padded to the byte; LEN, NLEN; the bytes. It ends on a byte boundary.
    out.set([0, prefix.length & 0xff, prefix.length >> 8, ~prefix.length & 0xff, (~prefix.length >> 8) & 0xff], 0);
    out.set(prefix, 5);
  }
  let byte = stored;
  let bit = 0;
  const put = (b: number) => {
    out[byte] |= b << bit;
    if (++bit === 8) (bit = 0), byte++;
  };
  /** Huffman codes go most significant bit first; everything else least significant first. */
  const code = (value: number, length: number) => {
    for (let i = length - 1; i >= 0; i--) put((value >>> i) & 1);
  };
  put(1); // BFINAL
  put(1); // BTYPE = 01 (fixed Huffman), low bit first
  put(0);
  for (let i = 0; i < literals; i++) code(0b00110000, 8); // literal 0
  for (let i = 0; i < copies; i++) {
    code(0b11000101, 8); // length code 285 = 258
    code(0, 5); // distance code 0 = 1: the zero just written
  }
  code(0, 7); // end of block (256)
  return out.subarray(0, byte + (bit ? 1 : 0));
}

/** CRC-32 of `prefix` then `size` zero bytes, without allocating them. */
export function zeroCrc32(size: number, prefix: Uint8Array = new Uint8Array(0)): number {
  const block = new Uint8Array(Math.min(size, 1 << 24));
  let crc = crc32(prefix);
  for (let left = size; left > 0; left -= block.length)
    crc = crc32(block.subarray(0, Math.min(left, block.length)), crc);
  return crc;
}
