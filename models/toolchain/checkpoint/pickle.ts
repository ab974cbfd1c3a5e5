/**
 * A restricted pickle reader (protocols 0–5) that builds data and never executes code.
 *
 * Python's unpickler calls whatever a pickle names. This one only calls the pure data constructors its caller
 * allowlists (`callables`), turns allowlisted classes into inert records (`recordClasses`), and rejects every
 * other call — REDUCE, INST, OBJ, NEWOBJ(_EX), BUILD on or with a global, EXT* — with `unsafe-pickle` naming the
 * global. A GLOBAL that is only referenced, never called, stays an inert `GlobalRef`. Every size is bounded so a
 * hostile pickle cannot allocate without limit.
 *
 * Values: None → null, bool → boolean, int → number (bigint beyond 2^53), float → number, str → string,
 * bytes/bytearray → Uint8Array, list → array, tuple → frozen array, dict → Map, set/frozenset → Set.
 */
import { CheckpointError } from '../../state-dict.js';

/** A reference to `module.name` that was never called. */
export class GlobalRef {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of an allowlisted plain-data class (e.g. argparse.Namespace): its class name and attributes. */
export class PickledRecord {
  readonly fields = new Map<string, unknown>();
  constructor(
    readonly className: string,
    readonly args: readonly unknown[],
  ) {}
}

export interface PickleLimits {
  /** Values on the stack (all frames together). */
  maxStack: number;
  /** Nested MARKs. */
  maxMarks: number;
  maxMemo: number;
  /** Bytes of one arbitrary-precision integer (LONG1/LONG4) or digits of a text one. */
  maxIntBytes: number;
  /** Bytes of one text-protocol line (GLOBAL names, INT, FLOAT, …). */
  maxLine: number;
  /** Containers nested inside each other in the result: whoever walks it recursively must not run out of stack. */
  maxDepth: number;
}

export const DEFAULT_PICKLE_LIMITS: Readonly<PickleLimits> = Object.freeze({
  maxStack: 1 << 22,
  maxMarks: 1 << 14,
  maxMemo: 1 << 22,
  maxIntBytes: 4300,
  maxLine: 1 << 16,
  // Real checkpoints nest under ten deep; the extras walk in pth.ts allows 256.
  maxDepth: 200,
});

export interface UnpicklePolicy {
  /** 'module.name' → a function that builds data from its arguments. The only things a pickle may call. */
  callables: ReadonlyMap<string, (args: readonly unknown[]) => unknown>;
  /** 'module.name' of classes whose instances become `PickledRecord`s. */
  recordClasses: ReadonlySet<string>;
  /** Resolves a persistent id (torch: storages). Called for PERSID/BINPERSID. */
  persistentLoad(pid: unknown): unknown;
  /**
   * BUILD on a value the policy made (e.g. a tensor). Return false to reject. Records and dicts are handled here.
   */
  build?(target: unknown, state: unknown): boolean;
  limits?: Partial<PickleLimits>;
}

const corrupt = (message: string) => new CheckpointError('corrupt-pickle', message);
const unsafe = (message: string) => new CheckpointError('unsafe-pickle', message);
const overLimit = (message: string) => new CheckpointError('pickle-limit', message);

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const latin1 = new TextDecoder('latin1');

export function unpickle(bytes: Uint8Array, policy: UnpicklePolicy): unknown {
  return new Unpickler(bytes, policy).load();
}

class Unpickler {
  private pos = 0;
  private readonly view: DataView;
  private readonly stack: unknown[] = [];
  /** Stack heights at each MARK; the current frame is the stack above the last one. */
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, unknown>();
  private readonly limits: PickleLimits;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly policy: UnpicklePolicy,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.limits = { ...DEFAULT_PICKLE_LIMITS, ...policy.limits };
  }

  // ---- input ----

  private need(n: number): number {
    if (n > this.bytes.byteLength - this.pos)
      throw new CheckpointError('truncated', `pickle ends inside an opcode at byte ${this.pos}`);
    const at = this.pos;
    this.pos += n;
    return at;
  }
  private u8(): number {
    return this.bytes[this.need(1)];
  }
  private u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  private u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  private i32(): number {
    return this.view.getInt32(this.need(4), true);
  }
  private u64(): number {
    const value = this.view.getBigUint64(this.need(8), true);
    // Anything this large cannot fit in the remaining input; report it as the truncation it implies.
    if (value > BigInt(this.bytes.byteLength))
      throw new CheckpointError('truncated', `pickle length ${value} exceeds the data`);
    return Number(value);
  }
  private take(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) throw new CheckpointError('truncated', 'pickle ends inside a text line');
    if (end - this.pos > this.limits.maxLine)
      throw overLimit(`pickle text line longer than ${this.limits.maxLine} bytes`);
    const text = latin1.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }
  private text(n: number): string {
    const data = this.take(n);
    try {
      return utf8.decode(data);
    } catch {
      throw corrupt(`invalid UTF-8 string at byte ${this.pos - n}`);
    }
  }

  // ---- stack ----

  private frameBase(): number {
    return this.marks.length ? this.marks[this.marks.length - 1] : 0;
  }
  private push(value: unknown): void {
    if (this.stack.length >= this.limits.maxStack) throw overLimit(`pickle stack deeper than ${this.limits.maxStack}`);
    this.stack.push(value);
  }
  private pop(): unknown {
    if (this.stack.length <= this.frameBase()) throw corrupt(`stack underflow at byte ${this.pos - 1}`);
    return this.stack.pop();
  }
  private top(): unknown {
    if (this.stack.length <= this.frameBase()) throw corrupt(`stack underflow at byte ${this.pos - 1}`);
    return this.stack[this.stack.length - 1];
  }
  private popMark(): unknown[] {
    const base = this.marks.pop();
    if (base === undefined) throw corrupt(`no MARK to pop at byte ${this.pos - 1}`);
    return this.stack.splice(base);
  }
  private memoPut(index: number, value: unknown): void {
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxMemo)
      throw overLimit(`pickle memo larger than ${this.limits.maxMemo}`);
    this.memo.set(index, value);
  }
  private memoGet(index: number): unknown {
    if (!this.memo.has(index)) throw corrupt(`memo entry ${index} read before it was written`);
    return this.memo.get(index);
  }

  // ---- numbers ----

  private int(value: bigint): number | bigint {
    return value >= -BigInt(Number.MAX_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value;
  }
  /** Little-endian two's complement, as LONG1/LONG4 store it. */
  private long(n: number): number | bigint {
    if (n > this.limits.maxIntBytes) throw overLimit(`pickle integer of ${n} bytes`);
    const data = this.take(n);
    if (n === 0) return 0;
    let hex = '';
    for (let i = n - 1; i >= 0; i--) hex += data[i].toString(16).padStart(2, '0');
    let value = BigInt(`0x${hex}`);
    if (data[n - 1] & 0x80) value -= 1n << BigInt(8 * n);
    return this.int(value);
  }
  private decimal(text: string): number | bigint {
    const digits = text.endsWith('L') ? text.slice(0, -1) : text;
    if (!/^[+-]?\d+$/.test(digits)) throw corrupt(`bad integer literal ${JSON.stringify(text.slice(0, 40))}`);
    if (digits.length > this.limits.maxIntBytes) throw overLimit(`pickle integer of ${digits.length} digits`);
    return this.int(BigInt(digits));
  }

  // ---- calls: the only place a pickle could make Python run code ----

  private call(callee: unknown, args: unknown, via: string): unknown {
    if (!(callee instanceof GlobalRef)) throw corrupt(`${via} on a value that is not a class or function`);
    if (!Array.isArray(args)) throw corrupt(`${via} of ${callee.qualifiedName} without an argument tuple`);
    const name = callee.qualifiedName;
    const build = this.policy.callables.get(name);
    if (build) return build(args);
    if (this.policy.recordClasses.has(name)) return new PickledRecord(name, args);
    throw unsafe(`pickle tries to call ${name} (${via}), which is not on the allowlist`);
  }

  private build(target: unknown, state: unknown): void {
    if (state instanceof GlobalRef) throw unsafe(`BUILD with callable state ${state.qualifiedName}`);
    if (target instanceof GlobalRef) throw unsafe(`BUILD would call ${target.qualifiedName}.__setstate__`);
    if (target instanceof PickledRecord) {
      // Python sets __dict__ from a dict state, or from (dict, slots) for classes with __slots__.
      const parts = Array.isArray(state) && state.length === 2 ? state : [state];
      for (const part of parts) {
        if (part === null) continue;
        if (!(part instanceof Map)) throw corrupt(`BUILD state for ${target.className} is not a dict`);
        for (const [key, value] of part) {
          if (typeof key !== 'string') throw corrupt(`BUILD attribute name of ${target.className} is not a string`);
          target.fields.set(key, value);
        }
      }
      return;
    }
    // A dict subclass with instance attributes (OrderedDict state dicts carry `_metadata`): attributes are not data.
    if (target instanceof Map && (state === null || state instanceof Map)) return;
    if (this.policy.build?.(target, state)) return;
    throw corrupt('BUILD on a value that takes no state');
  }

  // ---- the machine ----

  load(): unknown {
    const end = this.bytes.byteLength;
    while (this.pos < end) {
      const op = this.bytes[this.pos++];
      switch (op) {
        case 0x80: {
          // PROTO
          const version = this.u8();
          if (version > 5) throw corrupt(`unsupported pickle protocol ${version}`);
          break;
        }
        case 0x95: // FRAME: only a read-ahead hint
          this.u64();
          break;
        case 0x2e: // STOP '.'
          if (this.marks.length) throw corrupt('STOP inside an open MARK');
          return checkDepth(this.pop(), this.limits.maxDepth);

        // -- stack manipulation --
        case 0x28: // MARK '('
          if (this.marks.length >= this.limits.maxMarks)
            throw overLimit(`more than ${this.limits.maxMarks} nested MARKs`);
          this.marks.push(this.stack.length);
          break;
        case 0x30: // POP '0'
          if (this.stack.length > this.frameBase()) this.stack.pop();
          else this.popMark();
          break;
        case 0x31: // POP_MARK '1'
          this.popMark();
          break;
        case 0x32: // DUP '2'
          this.push(this.top());
          break;

        // -- memo --
        case 0x70: // PUT 'p'
          this.memoPut(Number(this.decimal(this.line())), this.top());
          break;
        case 0x71: // BINPUT 'q'
          this.memoPut(this.u8(), this.top());
          break;
        case 0x72: // LONG_BINPUT 'r'
          this.memoPut(this.u32(), this.top());
          break;
        case 0x94: // MEMOIZE
          this.memoPut(this.memo.size, this.top());
          break;
        case 0x67: // GET 'g'
          this.push(this.memoGet(Number(this.decimal(this.line()))));
          break;
        case 0x68: // BINGET 'h'
          this.push(this.memoGet(this.u8()));
          break;
        case 0x6a: // LONG_BINGET 'j'
          this.push(this.memoGet(this.u32()));
          break;

        // -- constants and numbers --
        case 0x4e: // NONE 'N'
          this.push(null);
          break;
        case 0x88: // NEWTRUE
          this.push(true);
          break;
        case 0x89: // NEWFALSE
          this.push(false);
          break;
        case 0x49: {
          // INT 'I' (protocol 0 also spells booleans this way)
          const text = this.line();
          this.push(text === '01' ? true : text === '00' ? false : this.decimal(text));
          break;
        }
        case 0x4c: // LONG 'L'
          this.push(this.decimal(this.line()));
          break;
        case 0x4a: // BININT 'J'
          this.push(this.i32());
          break;
        case 0x4b: // BININT1 'K'
          this.push(this.u8());
          break;
        case 0x4d: // BININT2 'M'
          this.push(this.u16());
          break;
        case 0x8a: // LONG1
          this.push(this.long(this.u8()));
          break;
        case 0x8b: {
          // LONG4
          const n = this.i32();
          if (n < 0) throw corrupt('negative LONG4 length');
          this.push(this.long(n));
          break;
        }
        case 0x46: {
          // FLOAT 'F'
          const text = this.line().trim();
          const value = Number(text);
          if (text === '' || (Number.isNaN(value) && !/^[+-]?nan$/i.test(text)))
            throw corrupt(`bad float literal ${JSON.stringify(text.slice(0, 40))}`);
          this.push(value);
          break;
        }
        case 0x47: // BINFLOAT 'G' (big-endian)
          this.push(this.view.getFloat64(this.need(8), false));
          break;

        // -- strings and bytes --
        case 0x58: // BINUNICODE 'X'
          this.push(this.text(this.u32()));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.push(this.text(this.u8()));
          break;
        case 0x8d: // BINUNICODE8
          this.push(this.text(this.u64()));
          break;
        case 0x56: // UNICODE 'V' (raw-unicode-escape; checkpoints never use it, so only \uXXXX escapes are honoured)
          this.push(
            this.line().replace(/\\u([0-9a-fA-F]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))),
          );
          break;
        case 0x53: // STRING 'S' (Python 2 str, repr-quoted)
          this.push(unquotePython2String(this.line()));
          break;
        case 0x54: {
          // BINSTRING 'T' (Python 2 str): torch.load decodes these as UTF-8
          const n = this.i32();
          if (n < 0) throw corrupt('negative BINSTRING length');
          this.push(this.py2String(this.take(n)));
          break;
        }
        case 0x55: // SHORT_BINSTRING 'U'
          this.push(this.py2String(this.take(this.u8())));
          break;
        case 0x42: // BINBYTES 'B'
          this.push(copyBytes(this.take(this.u32())));
          break;
        case 0x43: // SHORT_BINBYTES 'C'
          this.push(copyBytes(this.take(this.u8())));
          break;
        case 0x8e: // BINBYTES8
        case 0x96: // BYTEARRAY8
          this.push(copyBytes(this.take(this.u64())));
          break;
        case 0x97: // NEXT_BUFFER
          throw corrupt('pickle uses out-of-band buffers, which checkpoints never contain');
        case 0x98: // READONLY_BUFFER
          this.top();
          break;

        // -- containers --
        case 0x29: // EMPTY_TUPLE ')'
          this.push(Object.freeze([]));
          break;
        case 0x85: // TUPLE1
          this.push(Object.freeze([this.pop()]));
          break;
        case 0x86: {
          // TUPLE2
          const b = this.pop();
          this.push(Object.freeze([this.pop(), b]));
          break;
        }
        case 0x87: {
          // TUPLE3
          const c = this.pop();
          const b = this.pop();
          this.push(Object.freeze([this.pop(), b, c]));
          break;
        }
        case 0x74: // TUPLE 't'
          this.push(Object.freeze(this.popMark()));
          break;
        case 0x5d: // EMPTY_LIST ']'
          this.push([]);
          break;
        case 0x6c: // LIST 'l'
          this.push(this.popMark());
          break;
        case 0x61: {
          // APPEND 'a'
          const item = this.pop();
          this.listTarget('APPEND').push(item);
          break;
        }
        case 0x65: {
          // APPENDS 'e'
          const items = this.popMark();
          const list = this.listTarget('APPENDS');
          for (const item of items) list.push(item);
          break;
        }
        case 0x7d: // EMPTY_DICT '}'
          this.push(new Map());
          break;
        case 0x64: // DICT 'd'
          this.push(this.setItems(new Map(), this.popMark()));
          break;
        case 0x73: {
          // SETITEM 's'
          const value = this.pop();
          const key = this.pop();
          this.setItems(this.dictTarget('SETITEM'), [key, value]);
          break;
        }
        case 0x75: {
          // SETITEMS 'u'
          const items = this.popMark();
          this.setItems(this.dictTarget('SETITEMS'), items);
          break;
        }
        case 0x8f: // EMPTY_SET
          this.push(new Set());
          break;
        case 0x90: {
          // ADDITEMS
          const items = this.popMark();
          const set = this.top();
          if (set instanceof GlobalRef) throw unsafe(`ADDITEMS would call ${set.qualifiedName}.add`);
          if (!(set instanceof Set)) throw corrupt('ADDITEMS on a value that is not a set');
          for (const item of items) set.add(item);
          break;
        }
        case 0x91: // FROZENSET
          this.push(new Set(this.popMark()));
          break;

        // -- globals and calls --
        case 0x63: {
          // GLOBAL 'c'
          const module = this.line();
          this.push(new GlobalRef(module, this.line()));
          break;
        }
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') throw corrupt('STACK_GLOBAL needs two strings');
          this.push(new GlobalRef(module, name));
          break;
        }
        case 0x52: {
          // REDUCE 'R'
          const args = this.pop();
          const callee = this.pop();
          this.push(this.call(callee, args, 'REDUCE'));
          break;
        }
        case 0x81: {
          // NEWOBJ: cls.__new__(cls, *args)
          const args = this.pop();
          const cls = this.pop();
          this.push(this.call(cls, args, 'NEWOBJ'));
          break;
        }
        case 0x92: {
          // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
          const kwargs = this.pop();
          const args = this.pop();
          const cls = this.pop();
          if (!(kwargs instanceof Map)) throw corrupt('NEWOBJ_EX keyword arguments are not a dict');
          if (kwargs.size && cls instanceof GlobalRef && !this.policy.recordClasses.has(cls.qualifiedName)) {
            throw unsafe(`pickle tries to call ${cls.qualifiedName} (NEWOBJ_EX), which is not on the allowlist`);
          }
          this.push(this.call(cls, args, 'NEWOBJ_EX'));
          break;
        }
        case 0x69: {
          // INST 'i': module and name inline, arguments since the MARK
          const module = this.line();
          const cls = new GlobalRef(module, this.line());
          this.push(this.call(cls, Object.freeze(this.popMark()), 'INST'));
          break;
        }
        case 0x6f: {
          // OBJ 'o': class and arguments since the MARK
          const items = this.popMark();
          if (!items.length) throw corrupt('OBJ without a class');
          this.push(this.call(items[0], Object.freeze(items.slice(1)), 'OBJ'));
          break;
        }
        case 0x62: {
          // BUILD 'b'
          const state = this.pop();
          this.build(this.top(), state);
          break;
        }
        case 0x82: // EXT1
        case 0x83: // EXT2
        case 0x84: {
          // EXT4: the copyreg extension registry resolves codes to arbitrary callables
          const code = op === 0x82 ? this.u8() : op === 0x83 ? this.u16() : this.i32();
          throw unsafe(`pickle uses extension code ${code} (EXT), which could name any global`);
        }
        case 0x50: // PERSID 'P'
          this.push(this.policy.persistentLoad(this.line()));
          break;
        case 0x51: // BINPERSID 'Q'
          this.push(this.policy.persistentLoad(this.pop()));
          break;

        default:
          throw corrupt(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} at byte ${this.pos - 1}`);
      }
    }
    throw new CheckpointError('truncated', 'pickle ends without STOP');
  }

  private py2String(data: Uint8Array): string {
    try {
      return utf8.decode(data);
    } catch {
      return latin1.decode(data);
    }
  }

  private listTarget(via: string): unknown[] {
    const list = this.top();
    if (list instanceof GlobalRef) throw unsafe(`${via} would call ${list.qualifiedName}.append`);
    if (!Array.isArray(list) || Object.isFrozen(list)) throw corrupt(`${via} on a value that is not a list`);
    return list;
  }

  private dictTarget(via: string): Map<unknown, unknown> {
    const dict = this.top();
    if (dict instanceof GlobalRef) throw unsafe(`${via} would call ${dict.qualifiedName}.__setitem__`);
    if (!(dict instanceof Map)) throw corrupt(`${via} on a value that is not a dict`);
    return dict;
  }

  private setItems(dict: Map<unknown, unknown>, items: unknown[]): Map<unknown, unknown> {
    if (items.length % 2) throw corrupt('odd number of items for a dict');
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
    return dict;
  }
}

/**
 * Refuses a result nested deeper than `limit`. Measured on the finished object graph, not as items are inserted:
 * through the memo a container can grow after it was put into another. Iterative, so the check itself cannot
 * overflow; a reference back into a container still being walked (a cycle) adds no depth.
 */
function checkDepth<T>(root: T, limit: number): T {
  const finished = new Map<object, number>();
  const path: { node: object; children: Iterator<unknown>; height: number }[] = [];
  const onPath = new Set<object>();
  const enter = (value: unknown): number | undefined => {
    const children = childrenOf(value);
    if (!children) return 0;
    const node = value as object;
    const known = finished.get(node);
    if (known !== undefined) return known;
    if (onPath.has(node)) return 0;
    if (path.length >= limit) throw overLimit(`pickle data nested deeper than ${limit}`);
    path.push({ node, children: children[Symbol.iterator](), height: 1 });
    onPath.add(node);
    return undefined;
  };
  enter(root);
  while (path.length) {
    const frame = path[path.length - 1];
    const next = frame.children.next();
    if (!next.done) {
      const height = enter(next.value);
      if (height !== undefined) frame.height = Math.max(frame.height, height + 1);
      continue;
    }
    path.pop();
    onPath.delete(frame.node);
    finished.set(frame.node, frame.height);
    if (path.length) path[path.length - 1].height = Math.max(path[path.length - 1].height, frame.height + 1);
  }
  return root;
}

/** The values a container holds (dict keys too), or undefined for a leaf. */
function childrenOf(value: unknown): Iterable<unknown> | undefined {
  if (Array.isArray(value) || value instanceof Set) return value;
  if (value instanceof Map) return mapItems(value);
  if (value instanceof PickledRecord) return [...value.args, ...value.fields.values()];
  return undefined;
}

function* mapItems(map: Map<unknown, unknown>): Iterable<unknown> {
  for (const [key, item] of map) {
    yield key;
    yield item;
  }
}

/** Own copy (Buffer#slice would return a view into the checkpoint). */
function copyBytes(view: Uint8Array): Uint8Array {
  const out = new Uint8Array(view.byteLength);
  out.set(view);
  return out;
}

function unquotePython2String(text: string): string {
  const quote = text[0];
  if ((quote !== "'" && quote !== '"') || text.length < 2 || text[text.length - 1] !== quote) {
    throw corrupt('STRING literal is not quoted');
  }
  const escapes: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
  return text
    .slice(1, -1)
    .replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) =>
      e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (escapes[e] ?? `\\${e}`),
    );
}
