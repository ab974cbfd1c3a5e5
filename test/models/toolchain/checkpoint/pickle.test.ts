/** The restricted unpickler: hostile pickles are refused, hostile sizes are bounded, inert data stays inert. */
import { describe, expect, it } from 'vitest';
import { CheckpointError, readCheckpoint } from '../../../../models/toolchain/checkpoint/index.js';
import {
  DEFAULT_PICKLE_LIMITS,
  unpickle,
  type UnpicklePolicy,
} from '../../../../models/toolchain/checkpoint/pickle.js';
import { checkpointErrorCode } from '../../../helpers/checkpoint-error.js';
import { deeplyNestedKey, nestedAfterInsertion } from '../../../helpers/hostile-checkpoints.js';
import {
  bytesOf,
  dictPickle,
  float32Bytes,
  global,
  inst,
  int,
  OP,
  pickle,
  stackGlobal,
  stateDictPickle,
  str,
  torchZip,
  tuple,
} from '../../../helpers/pickle.js';

/** The error readCheckpoint throws for a torch zip whose data.pkl is `dataPkl`. */
function rejectionOf(dataPkl: Uint8Array): CheckpointError {
  try {
    readCheckpoint(torchZip(dataPkl, { '0': float32Bytes([1, 2]) }), 'hostile.pth');
  } catch (error) {
    expect(error).toBeInstanceOf(CheckpointError);
    return error as CheckpointError;
  }
  throw new Error('hostile checkpoint was accepted');
}

const weights = stateDictPickle([{ name: 'w', storageType: 'FloatStorage', key: '0', numel: 2, size: [2] }]);
/** A training checkpoint `{model: <weights>, extra: <payload>}`: the payload hides behind valid weights. */
const withPayload = (protocol: number, payload: Uint8Array) =>
  pickle(
    protocol,
    dictPickle([
      ['model', weights],
      ['extra', payload],
    ]),
  );

describe('hostile pickles are rejected with unsafe-pickle naming the global', () => {
  const cases: [string, number, Uint8Array, RegExp][] = [
    [
      'GLOBAL + REDUCE',
      2,
      bytesOf(global('os', 'system'), tuple(str('echo pwned')), OP.REDUCE),
      /os\.system \(REDUCE\)/,
    ],
    [
      'STACK_GLOBAL + REDUCE',
      4,
      bytesOf(stackGlobal('posix', 'system'), tuple(str('echo pwned')), OP.REDUCE),
      /posix\.system \(REDUCE\)/,
    ],
    [
      'builtins.eval via REDUCE',
      2,
      bytesOf(global('builtins', 'eval'), tuple(str('1+1')), OP.REDUCE),
      /builtins\.eval/,
    ],
    ['INST', 0, bytesOf(OP.MARK, str('echo pwned'), inst('os', 'system')), /os\.system \(INST\)/],
    ['OBJ', 1, bytesOf(OP.MARK, global('os', 'system'), str('echo pwned'), OP.OBJ), /os\.system \(OBJ\)/],
    ['NEWOBJ', 2, bytesOf(global('os', 'system'), tuple(str('echo pwned')), OP.NEWOBJ), /os\.system \(NEWOBJ\)/],
    [
      'NEWOBJ_EX',
      4,
      bytesOf(global('os', 'system'), tuple(str('echo pwned')), OP.EMPTY_DICT, OP.NEWOBJ_EX),
      /os\.system \(NEWOBJ_EX\)/,
    ],
    ['BUILD on a global', 2, bytesOf(global('os', 'system'), OP.EMPTY_DICT, OP.BUILD), /os\.system\.__setstate__/],
    [
      'BUILD with a callable state',
      2,
      bytesOf(global('argparse', 'Namespace'), OP.EMPTY_TUPLE, OP.NEWOBJ, global('os', 'system'), OP.BUILD),
      /callable state os\.system/,
    ],
    [
      'SETITEM on a global',
      2,
      bytesOf(global('os', 'environ'), str('LD_PRELOAD'), str('x'), OP.SETITEM),
      /os\.environ\.__setitem__/,
    ],
    ['APPEND on a global', 2, bytesOf(global('sys', 'path'), str('/tmp'), OP.APPEND), /sys\.path\.append/],
    ['EXT1', 2, bytesOf(OP.EXT1, 1), /extension code 1/],
    [
      '_rebuild_from_type_v2 smuggling a call',
      2,
      bytesOf(
        global('torch._tensor', '_rebuild_from_type_v2'),
        tuple(global('os', 'system'), OP.NONE, tuple(str('x')), OP.NONE),
        OP.REDUCE,
      ),
      /os\.system/,
    ],
    [
      '_codecs.encode beyond latin1 bytes',
      2,
      bytesOf(global('_codecs', 'encode'), tuple(str('x'), str('rot13')), OP.REDUCE),
      /_codecs\.encode/,
    ],
  ];
  for (const [name, protocol, payload, message] of cases) {
    it(name, () => {
      const error = rejectionOf(withPayload(protocol, payload));
      expect(error.code).toBe('unsafe-pickle');
      expect(error.message).toMatch(message);
    });
  }

  it('rejects the call even as the whole pickle, before any state dict is looked for', () => {
    const error = rejectionOf(pickle(2, global('os', 'system'), tuple(str('echo pwned')), OP.REDUCE));
    expect(error.code).toBe('unsafe-pickle');
    expect(error.message).toMatch(/^hostile\.pth: .*os\.system/);
  });
});

describe('inert data', () => {
  it('keeps a global that is only referenced, never called, as an inert reference', () => {
    const checkpoint = readCheckpoint(torchZip(withPayload(2, global('os', 'system')), { '0': float32Bytes([1, 2]) }));
    expect(checkpoint.extras.extra).toMatchObject({ module: 'os', name: 'system' });
    expect(checkpoint.stateDict.get('w')!.data).toEqual(Float32Array.from([1, 2]));
  });

  it('converts a self-referencing list without looping', () => {
    // l = []; l.append(l)
    const payload = bytesOf(OP.EMPTY_LIST, OP.BINPUT, 9, OP.BINGET, 9, OP.APPEND);
    const checkpoint = readCheckpoint(torchZip(withPayload(2, payload), { '0': float32Bytes([1, 2]) }));
    const list = checkpoint.extras.extra as unknown[];
    expect(list[0]).toBe(list);
  });

  it('keeps a "__proto__" dict key as data, not as the prototype', () => {
    const checkpoint = readCheckpoint(
      torchZip(withPayload(2, dictPickle([['__proto__', str('polluted')]])), { '0': float32Bytes([1, 2]) }),
    );
    const extra = checkpoint.extras.extra as Record<string, unknown>;
    expect(Object.getPrototypeOf(extra)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(extra, '__proto__')?.value).toBe('polluted');
  });
});

describe('bounds', () => {
  const policy: UnpicklePolicy = { callables: new Map(), recordClasses: new Set(), persistentLoad: () => null };
  const codeOf = (data: Uint8Array, extra: Partial<UnpicklePolicy> = {}) => {
    try {
      unpickle(data, { ...policy, ...extra });
    } catch (error) {
      return (error as CheckpointError).code;
    }
    return 'accepted';
  };
  const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];

  it('reads a plain pickle', () => {
    expect(unpickle(pickle(2, tuple(int(-5), str('ä'), OP.NEWTRUE, OP.NONE)), policy)).toEqual([-5, 'ä', true, null]);
  });

  it('checks string and bytes lengths against the remaining input before allocating', () => {
    expect(codeOf(bytesOf(0x80, 2, 0x58, u32(0xffffffff), 0x61))).toBe('truncated'); // BINUNICODE 4 GiB
    expect(codeOf(bytesOf(0x80, 4, 0x8e, [0, 0, 0, 0, 0, 0, 0, 0x40], 0x2e))).toBe('truncated'); // BINBYTES8 2^62
    expect(codeOf(bytesOf(0x80, 2, 0x8b, u32(0x7fffffff), 0x2e))).toBe('pickle-limit'); // LONG4 of 2 GiB
  });

  it('bounds the memo, the stack and MARK nesting', () => {
    const puts = bytesOf(0x80, 2, OP.NONE, ...Array.from({ length: 11 }, (_, i) => [OP.BINPUT, i]), OP.STOP);
    expect(codeOf(puts, { limits: { maxMemo: 10 } })).toBe('pickle-limit');
    expect(codeOf(puts, { limits: { maxMemo: 11 } })).toBe('accepted');
    const dups = bytesOf(0x80, 2, OP.NONE, new Array(100).fill(OP.DUP), OP.STOP);
    expect(codeOf(dups, { limits: { maxStack: 50 } })).toBe('pickle-limit');
    expect(codeOf(bytesOf(0x80, 2, new Array(20_000).fill(OP.MARK)))).toBe('pickle-limit');
  });

  it('reports a cut pickle as truncated and malformed ones as corrupt', () => {
    const full = pickle(2, tuple(str('storage'), int(7)));
    for (const cut of [3, 10, full.length - 1])
      expect(codeOf(full.subarray(0, cut)), `cut at ${cut}`).toBe('truncated');
    expect(codeOf(bytesOf(0x80, 2, OP.TUPLE, OP.STOP))).toBe('corrupt-pickle'); // TUPLE without MARK
    expect(codeOf(bytesOf(0x80, 2, OP.REDUCE, OP.STOP))).toBe('corrupt-pickle'); // stack underflow
    expect(codeOf(bytesOf(0x80, 2, OP.BINGET, 3, OP.STOP))).toBe('corrupt-pickle'); // memo miss
    expect(codeOf(bytesOf(0x80, 2, 0xff))).toBe('corrupt-pickle'); // unknown opcode
    expect(codeOf(bytesOf(0x80, 9, OP.NONE, OP.STOP))).toBe('corrupt-pickle'); // protocol 9
  });

  it('reports a truncated data.pkl inside a valid zip as truncated', () => {
    const full = withPayload(2, int(1));
    const error = rejectionOf(full.subarray(0, full.length - 20));
    expect(error.code).toBe('truncated');
  });
});

describe('nesting depth', () => {
  it('refuses a dict key nested 100,000 deep with pickle-limit, not a stack overflow', () => {
    expect(checkpointErrorCode(() => readCheckpoint(deeplyNestedKey(100_000)))).toBe('pickle-limit');
  });

  it('counts nesting made through the memo after a container was inserted', () => {
    expect(checkpointErrorCode(() => readCheckpoint(nestedAfterInsertion(100_000)))).toBe('pickle-limit');
  });

  it('accepts nesting as deep as the limit', () => {
    const depthOf = (data: Uint8Array) =>
      unpickle(data, { callables: new Map(), recordClasses: new Set(), persistentLoad: () => null });
    const nested = (depth: number) => pickle(2, OP.EMPTY_TUPLE, new Uint8Array(depth - 1).fill(OP.TUPLE1));
    expect(() => depthOf(nested(DEFAULT_PICKLE_LIMITS.maxDepth))).not.toThrow();
    expect(checkpointErrorCode(() => depthOf(nested(DEFAULT_PICKLE_LIMITS.maxDepth + 1)))).toBe('pickle-limit');
  });
});
