/**
 * torch.save zip archives (PyTorch ≥ 1.6): `<archive>/data.pkl` + `<archive>/data/<key>` storage records
 * (+ `version`, maybe `byteorder`). The pickle is read with the restricted unpickler; only the globals a state dict
 * needs are callable, and every tensor is checked against its storage record before it is copied out.
 */
import { decodeElements, DTYPE_BYTES, elementCount, isDimension, type DType } from './dtypes.js';
import { GlobalRef, PickledRecord, unpickle } from './pickle.js';
import { CheckpointError, type StateDict, type Tensor, type TensorValues } from '../../state-dict.js';
import { ZipArchive, type ReadWork, type ZipEntry } from './zip.js';

/** A storage named by a persistent id: which record, its element type and length. */
class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    readonly entry: ZipEntry,
  ) {}
}

/** A tensor as the pickle describes it: a strided view into a storage. Materialized only when needed. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {}
}

/** How the checkpoint's non-weight entries report a tensor (optimizer state, …): its type and shape, no data. */
export class TensorSummary {
  constructor(
    readonly dtype: string,
    readonly shape: readonly number[],
  ) {}
}

/** Plain data as read from the pickle's non-weight entries; no functions, nothing callable. */
export type InertValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | TensorSummary
  | GlobalRef
  | InertValue[]
  | Map<InertValue, InertValue>
  | Set<InertValue>
  | { [key: string]: InertValue };

/** Storage classes and dtypes as they appear in persistent ids (legacy typed storages, UntypedStorage, dtype globals). */
const STORAGE_DTYPES: ReadonlyMap<string, DType> = new Map(
  (
    [
      ['Float', 'float32', 'float32'],
      ['Double', 'float64', 'float64'],
      ['Half', 'float16', 'float16'],
      ['BFloat16', 'bfloat16', 'bfloat16'],
      ['Long', 'int64', 'int64'],
      ['Int', 'int32', 'int32'],
      ['Short', 'int16', 'int16'],
      ['Char', 'int8', 'int8'],
      ['Byte', 'uint8', 'uint8'],
      ['Bool', 'bool', 'bool'],
    ] as const
  ).flatMap(([storage, dtypeName, dtype]) => [
    [`torch.${storage}Storage`, dtype],
    [`torch.cuda.${storage}Storage`, dtype],
    [`torch.${dtypeName}`, dtype],
  ]),
);
const UNTYPED_STORAGES = new Set([
  'torch.UntypedStorage',
  'torch.storage.UntypedStorage',
  'torch.storage._UntypedStorage',
]);

const REBUILD_TENSOR: ReadonlySet<string> = new Set([
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
]);

/** The classes whose instances a training checkpoint may hold as plain attribute bags. */
const RECORD_CLASSES: ReadonlySet<string> = new Set(['argparse.Namespace']);

/** Keys under which training scripts keep the weights, in order of preference. */
const STATE_DICT_KEYS = ['model', 'state_dict'];

/** data.pkl holds structure, not weights (those are storage records): real ones are kilobytes to a few megabytes. */
const MAX_PICKLE_BYTES = 256 * 1024 * 1024;
/**
 * The weights, as decoded, at most: EfficientViT-M5 holds 50 MB. Without a cap, many views of one storage would
 * let a small file demand any amount of memory.
 */
export const MAX_STATE_DICT_BYTES = 1024 * 1024 * 1024;

export interface PthContents {
  stateDict: StateDict;
  /** Top-level entries other than the weights (epoch, args, optimizer, …), as inert data. */
  extras: Record<string, InertValue>;
}

/** `work` (optional) accumulates what reading cost: bytes inflated, 0 for torch's own stored archives. */
export function readPth(bytes: Uint8Array, work?: ReadWork): PthContents {
  const zip = new ZipArchive(bytes, work);
  const pickles = [...zip.entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1) {
    throw new CheckpointError(
      'corrupt-archive',
      pickles.length ? 'zip holds several data.pkl files' : 'zip has no <archive>/data.pkl: not a torch.save file',
    );
  }
  const prefix = pickles[0].slice(0, -'data.pkl'.length);
  const bigEndian = readByteOrder(zip, prefix);

  const storages = new Map<string, StorageRef>();
  const root = unpickle(zip.read(zip.entries.get(pickles[0])!, MAX_PICKLE_BYTES), {
    callables: torchCallables(),
    recordClasses: RECORD_CLASSES,
    persistentLoad: (pid) => loadStorage(pid, zip, prefix, storages),
    // torch never BUILDs onto a tensor, but tolerating empty state costs nothing.
    build: (target, state) =>
      target instanceof TensorRef && (state === null || (state instanceof Map && state.size === 0)),
  });

  const { weightsKey, weights } = findStateDict(root);
  checkWeightStorages(weights);
  // Each storage record is read (inflated, checksummed) once, however many tensors view it.
  const records = new Map<StorageRef, Uint8Array>();
  const recordOf = (storage: StorageRef) => {
    let record = records.get(storage);
    if (!record) records.set(storage, (record = zip.read(storage.entry)));
    return record;
  };
  const decoded = new Map<StorageRef, TensorValues>();
  const stateDict: StateDict = new Map();
  for (const [name, ref] of weights) stateDict.set(name, materialize(ref, recordOf, bigEndian, decoded));

  const extras: Record<string, InertValue> = {};
  if (weightsKey !== undefined && root instanceof Map) {
    const seen = new Map<unknown, InertValue>();
    const entries = [...root]
      .filter(([key]) => key !== weightsKey)
      .map(([key, value]) => [String(key), toInert(value, seen, 0)] as const);
    Object.assign(extras, Object.fromEntries(entries));
  }
  return { stateDict, extras };
}

function readByteOrder(zip: ZipArchive, prefix: string): boolean {
  const entry = zip.entries.get(`${prefix}byteorder`);
  if (!entry) return false; // only newer PyTorch writes it; files without it are little-endian
  const order = new TextDecoder().decode(zip.read(entry, 16)).trim();
  if (order !== 'little' && order !== 'big')
    throw new CheckpointError('corrupt-archive', `unknown byteorder ${JSON.stringify(order.slice(0, 20))}`);
  return order === 'big';
}

// ---- pickle policy ----

type Callable = (args: readonly unknown[]) => unknown;

function torchCallables(): Map<string, Callable> {
  const callables: Map<string, Callable> = new Map<string, (args: readonly unknown[]) => unknown>([
    ['torch._utils._rebuild_tensor', (args) => rebuildTensor(args)],
    ['torch._utils._rebuild_tensor_v2', (args) => rebuildTensor(args)],
    // Parameters are tensors plus requires_grad/hooks/state, none of which matter for weights.
    ['torch._utils._rebuild_parameter', (args) => expectTensor(args[0], '_rebuild_parameter')],
    ['torch._utils._rebuild_parameter_with_state', (args) => expectTensor(args[0], '_rebuild_parameter_with_state')],
    [
      // Tensor subclasses: (func, type, args, state). Only the tensor rebuilders are accepted as func.
      'torch._tensor._rebuild_from_type_v2',
      ([func, , args]): unknown => {
        if (!(func instanceof GlobalRef))
          throw new CheckpointError('corrupt-pickle', '_rebuild_from_type_v2 without a function');
        if (!REBUILD_TENSOR.has(func.qualifiedName)) {
          throw new CheckpointError(
            'unsafe-pickle',
            `pickle tries to call ${func.qualifiedName} (via _rebuild_from_type_v2), which is not on the allowlist`,
          );
        }
        if (!Array.isArray(args))
          throw new CheckpointError('corrupt-pickle', '_rebuild_from_type_v2 without an argument tuple');
        return callables.get(func.qualifiedName)!(args);
      },
    ],
    ['collections.OrderedDict', (args) => dictFrom(args[0])],
    ['builtins.set', (args) => new Set(iterableArg(args[0], 'set'))],
    ['builtins.frozenset', (args) => new Set(iterableArg(args[0], 'frozenset'))],
    [
      // Protocol 2 pickles Python 3 bytes as _codecs.encode(str, 'latin1').
      '_codecs.encode',
      ([text, encoding]) => {
        if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
          throw new CheckpointError('unsafe-pickle', '_codecs.encode is allowed only as the latin1 spelling of bytes');
        }
        return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
      },
    ],
  ]);
  return callables;
}

function dictFrom(arg: unknown): Map<unknown, unknown> {
  const dict = new Map<unknown, unknown>();
  for (const pair of iterableArg(arg, 'OrderedDict')) {
    if (!Array.isArray(pair) || pair.length !== 2)
      throw new CheckpointError('corrupt-pickle', 'OrderedDict item is not a pair');
    dict.set(pair[0], pair[1]);
  }
  return dict;
}

function iterableArg(arg: unknown, what: string): unknown[] {
  if (arg === undefined) return [];
  if (Array.isArray(arg)) return arg;
  if (arg instanceof Set) return [...arg];
  throw new CheckpointError('corrupt-pickle', `${what}() of something that is not a list`);
}

function expectTensor(value: unknown, via: string): TensorRef {
  if (!(value instanceof TensorRef))
    throw new CheckpointError('corrupt-pickle', `${via} of something that is not a tensor`);
  return value;
}

function loadStorage(pid: unknown, zip: ZipArchive, prefix: string, storages: Map<string, StorageRef>): StorageRef {
  // ('storage', storage_type, key, location, numel)
  if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== 'storage') {
    throw new CheckpointError('corrupt-pickle', 'persistent id is not a (storage, type, key, location, numel) tuple');
  }
  const [, type, key, , numel] = pid;
  if (!(type instanceof GlobalRef)) throw new CheckpointError('corrupt-pickle', 'storage type is not a global');
  if (typeof key !== 'string' || !/^[\w.-]+$/.test(key))
    throw new CheckpointError('corrupt-pickle', 'storage key is not a plain name');
  if (!isDimension(numel)) throw new CheckpointError('corrupt-pickle', `storage ${key} has an invalid length`);
  const dtype: DType | undefined = UNTYPED_STORAGES.has(type.qualifiedName)
    ? 'uint8'
    : STORAGE_DTYPES.get(type.qualifiedName);
  if (!dtype) throw new CheckpointError('unknown-dtype', `storage ${key} has unsupported type ${type.qualifiedName}`);

  const known = storages.get(key);
  if (known) {
    if (known.dtype !== dtype || known.numel !== numel)
      throw new CheckpointError('corrupt-tensor', `storage ${key} is described two ways`);
    return known;
  }
  const entry = zip.entries.get(`${prefix}data/${key}`);
  if (!entry)
    throw new CheckpointError(
      'missing-tensor',
      `data.pkl refers to storage ${key}, but the zip has no ${prefix}data/${key}`,
    );
  if (entry.size < numel * DTYPE_BYTES[dtype]) {
    throw new CheckpointError(
      'corrupt-tensor',
      `storage ${key} holds ${entry.size} bytes, less than ${numel} × ${dtype}`,
    );
  }
  // torch writes each record exactly as long as its storage; bytes beyond it can serve no tensor.
  if (entry.size > numel * DTYPE_BYTES[dtype]) {
    throw new CheckpointError(
      'oversized-entry',
      `storage record ${key} declares ${entry.size} bytes, more than its ${numel} × ${dtype}`,
    );
  }
  const storage = new StorageRef(key, dtype, numel, entry);
  storages.set(key, storage);
  return storage;
}

function rebuildTensor(args: readonly unknown[]): TensorRef {
  // _rebuild_tensor(storage, offset, size, stride); _v2 adds requires_grad, backward_hooks[, metadata].
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef))
    throw new CheckpointError('corrupt-pickle', 'tensor rebuilt from something that is not a storage');
  const ref = storage;
  if (
    !isDimension(offset) ||
    !Array.isArray(size) ||
    !Array.isArray(stride) ||
    size.length !== stride.length ||
    !size.every(isDimension) ||
    !stride.every(isDimension)
  ) {
    throw new CheckpointError('corrupt-tensor', `tensor on storage ${ref.key} has an invalid offset, size or stride`);
  }
  const numel = elementCount(size);
  if (numel === undefined)
    throw new CheckpointError('corrupt-tensor', `tensor on storage ${ref.key} has an impossible size`);
  if (numel > 0) {
    // Highest element the view touches must lie inside the storage. Views larger than their storage (expanded,
    // stride 0) never occur in state dicts and would let a tiny file demand a huge allocation.
    let last = offset;
    for (let d = 0; d < size.length; d++) last += (size[d] - 1) * stride[d];
    if (!Number.isSafeInteger(last) || last >= ref.numel || numel > ref.numel) {
      throw new CheckpointError(
        'corrupt-tensor',
        `tensor view [${size}] stride [${stride}] + ${offset} does not fit storage ${ref.key} of ${ref.numel} elements`,
      );
    }
  }
  return new TensorRef(ref, offset, size, stride);
}

// ---- finding the weights ----

function isStateDict(value: unknown): value is Map<string, TensorRef> {
  if (!(value instanceof Map) || value.size === 0) return false;
  for (const [key, tensor] of value) if (typeof key !== 'string' || !(tensor instanceof TensorRef)) return false;
  return true;
}

function findStateDict(root: unknown): { weightsKey?: string; weights: Map<string, TensorRef> } {
  if (isStateDict(root)) return { weights: stripDataParallelPrefix(root) };
  if (root instanceof Map) {
    for (const key of STATE_DICT_KEYS) {
      if (!root.has(key)) continue;
      const candidate = root.get(key);
      if (isStateDict(candidate)) return { weightsKey: key, weights: stripDataParallelPrefix(candidate) };
      throw new CheckpointError('no-state-dict', `checkpoint entry '${key}' is not a name → tensor dict`);
    }
    const keys = [...root.keys()].slice(0, 10).map(String).join(', ');
    throw new CheckpointError(
      'no-state-dict',
      `checkpoint has no ${STATE_DICT_KEYS.join('/')} entry and is not a state dict itself (keys: ${keys})`,
    );
  }
  throw new CheckpointError('no-state-dict', 'checkpoint holds neither a state dict nor a dict containing one');
}

/** Weights saved from a DistributedDataParallel wrapper carry 'module.' on every name. */
function stripDataParallelPrefix(weights: Map<string, TensorRef>): Map<string, TensorRef> {
  const names = [...weights.keys()];
  if (!names.every((name) => name.startsWith('module.'))) return weights;
  return new Map([...weights].map(([name, ref]) => [name.slice('module.'.length), ref]));
}

// ---- what the weights may cost ----

/**
 * Refuses, before anything is inflated: a deflated storage larger than what the weights read of it (its CRC-32
 * could only be checked by inflating bytes no tensor uses), and weights larger than MAX_STATE_DICT_BYTES decoded.
 */
function checkWeightStorages(weights: Map<string, TensorRef>): void {
  const used = new Map<StorageRef, number>();
  let total = 0;
  for (const ref of weights.values()) {
    const { storage } = ref;
    const numel = elementCount(ref.shape)!;
    // float16/bfloat16 widen to float32 on decode.
    total += numel * Math.max(DTYPE_BYTES[storage.dtype], storage.dtype.endsWith('float16') ? 4 : 0);
    if (numel === 0) continue;
    let last = ref.offset;
    for (let d = 0; d < ref.shape.length; d++) last += (ref.shape[d] - 1) * ref.stride[d];
    used.set(storage, Math.max(used.get(storage) ?? 0, (last + 1) * DTYPE_BYTES[storage.dtype]));
  }
  if (total > MAX_STATE_DICT_BYTES) {
    throw new CheckpointError(
      'oversized-state-dict',
      `the weights would take ${total} bytes decoded, more than the ${MAX_STATE_DICT_BYTES} any supported model needs`,
    );
  }
  for (const [storage, bytes] of used) {
    if (storage.entry.method !== 0 && storage.entry.size > bytes) {
      throw new CheckpointError(
        'oversized-entry',
        `deflated storage record ${storage.key} inflates to ${storage.entry.size} bytes, but the weights read only ${bytes} of them`,
      );
    }
  }
}

// ---- copying tensors out ----

function materialize(
  ref: TensorRef,
  recordOf: (storage: StorageRef) => Uint8Array,
  bigEndian: boolean,
  decoded: Map<StorageRef, TensorValues>,
): Tensor {
  const { storage, offset, shape, stride } = ref;
  const numel = elementCount(shape)!;
  const size = DTYPE_BYTES[storage.dtype];
  if (isContiguous(shape, stride)) {
    // The common case: decode just the view's bytes straight from the record.
    const bytes = recordOf(storage).subarray(offset * size, (offset + numel) * size);
    return { dtype: storage.dtype, shape: [...shape], data: decodeElements(storage.dtype, bytes, numel, bigEndian) };
  }
  let source = decoded.get(storage);
  if (!source) {
    source = decodeElements(storage.dtype, recordOf(storage), storage.numel, bigEndian);
    decoded.set(storage, source);
  }
  const out = new (source.constructor as new (length: number) => TensorValues)(numel);
  gather(source, out, offset, shape, stride);
  return { dtype: storage.dtype, shape: [...shape], data: out };
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

/** Row-major walk over a strided view, with an odometer over the dimensions. */
function gather(
  source: ArrayLike<number | bigint>,
  out: { [i: number]: number | bigint; length: number },
  offset: number,
  shape: readonly number[],
  stride: readonly number[],
): void {
  if (out.length === 0) return;
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let at = offset;
  for (let i = 0; i < out.length; i++) {
    out[i] = source[at];
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) {
        at += stride[d];
        break;
      }
      at -= (shape[d] - 1) * stride[d];
      index[d] = 0;
    }
  }
}

// ---- extras as inert data ----

const MAX_EXTRAS_DEPTH = 256;

function toInert(value: unknown, seen: Map<unknown, InertValue>, depth: number): InertValue {
  if (value === null || typeof value !== 'object') return value as InertValue;
  if (value instanceof Uint8Array || value instanceof GlobalRef) return value;
  if (value instanceof TensorRef) return new TensorSummary(value.storage.dtype, [...value.shape]);
  if (depth > MAX_EXTRAS_DEPTH)
    throw new CheckpointError('pickle-limit', `checkpoint data nested deeper than ${MAX_EXTRAS_DEPTH}`);
  // Shared and self-referencing containers map to one converted object, so cycles terminate.
  const done = seen.get(value);
  if (done !== undefined) return done;
  if (Array.isArray(value)) {
    const out: InertValue[] = [];
    seen.set(value, out);
    for (const item of value) out.push(toInert(item, seen, depth + 1));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set<InertValue>();
    seen.set(value, out);
    for (const item of value) out.add(toInert(item, seen, depth + 1));
    return out;
  }
  if (value instanceof PickledRecord || value instanceof Map) {
    const entries = value instanceof PickledRecord ? value.fields : value;
    const plainKeys = [...entries.keys()].every((key) => typeof key === 'string' || typeof key === 'number');
    if (plainKeys) {
      // defineProperty-style assignment (not `out[key] =`) so a '__proto__' key stays an ordinary property.
      const out: { [key: string]: InertValue } = {};
      seen.set(value, out);
      for (const [key, item] of entries)
        Object.defineProperty(out, String(key), {
          value: toInert(item, seen, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      return out;
    }
    const out = new Map<InertValue, InertValue>();
    seen.set(value, out);
    for (const [key, item] of entries) out.set(toInert(key, seen, depth + 1), toInert(item, seen, depth + 1));
    return out;
  }
  return String(value);
}
