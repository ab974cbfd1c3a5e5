/**
 * Test-only builders for checkpoint files from raw bytes: pickle opcodes, torch.save-style zips (fflate, store
 * mode) and safetensors files. They let tests craft exactly the valid, hostile and broken inputs they need.
 */
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
    else if (part instanceof Uint8Array) for (const byte of part) out.push(byte); // no spread: parts may be megabytes
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
export const stackGlobal = (module: string, name: string): Uint8Array => bytesOf(shortStr(module), shortStr(name), OP.STACK_GLOBAL);
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
      tuple(str('storage'), global(spec.storageModule ?? 'torch', spec.storageType), str(spec.key), str('cpu'), int(spec.numel)),
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
  return bytesOf(global('collections', 'OrderedDict'), OP.EMPTY_TUPLE, OP.REDUCE, OP.MARK, ...tensors.map((t) => [str(t.name), tensorPickle(t)]), OP.SETITEMS);
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
export function torchZip(dataPkl: Uint8Array, records: Record<string, Uint8Array>, options: TorchZipOptions = {}): Uint8Array {
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
