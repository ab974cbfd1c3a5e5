/** torch.save zips built byte by byte: strided views, every storage dtype, byte order, and every rejection. */
import { describe, expect, it } from 'vitest';
import { decodeElements } from '../../../../models/toolchain/checkpoint/dtypes.js';
import { readCheckpoint, type Checkpoint } from '../../../../models/toolchain/checkpoint/index.js';
import { checkpointErrorCode } from '../../../helpers/checkpoint-error.js';
import {
  bytesOf,
  dictPickle,
  float32Bytes,
  global,
  int,
  OP,
  pickle,
  stateDictPickle,
  str,
  tensorPickle,
  torchZip,
  tuple,
  type TensorSpec,
  type TorchZipOptions,
} from '../../../helpers/pickle.js';

const build = (tensors: TensorSpec[], records: Record<string, Uint8Array>, options?: TorchZipOptions) =>
  torchZip(pickle(2, dictPickle([['model', stateDictPickle(tensors)]])), records, options);
const read = (tensors: TensorSpec[], records: Record<string, Uint8Array>, options?: TorchZipOptions): Checkpoint =>
  readCheckpoint(build(tensors, records, options));
const values = (checkpoint: Checkpoint, name: string) =>
  Array.from(checkpoint.stateDict.get(name)!.data as ArrayLike<number | bigint>);

const codeOf = checkpointErrorCode;

const u16le = (...halves: number[]) => new Uint8Array(Uint16Array.from(halves).buffer);
const six = float32Bytes([0, 1, 2, 3, 4, 5]);

describe('strided views', () => {
  it('copies out transposed, offset and shared-storage views in row-major order', () => {
    const checkpoint = read(
      [
        { name: 'transposed', storageType: 'FloatStorage', key: '0', numel: 6, size: [3, 2], stride: [1, 3] },
        { name: 'tail', storageType: 'FloatStorage', key: '0', numel: 6, size: [2], offset: 4 },
        { name: 'window', storageType: 'FloatStorage', key: '0', numel: 6, size: [2, 2], stride: [3, 1], offset: 1 },
        { name: 'every_other', storageType: 'FloatStorage', key: '0', numel: 6, size: [3], stride: [2], offset: 1 },
        { name: 'whole', storageType: 'FloatStorage', key: '0', numel: 6, size: [2, 3] },
        { name: 'empty', storageType: 'FloatStorage', key: '0', numel: 6, size: [0, 3] },
      ],
      { '0': six },
    );
    expect(values(checkpoint, 'transposed')).toEqual([0, 3, 1, 4, 2, 5]);
    expect(values(checkpoint, 'tail')).toEqual([4, 5]);
    expect(values(checkpoint, 'window')).toEqual([1, 2, 4, 5]);
    expect(values(checkpoint, 'every_other')).toEqual([1, 3, 5]);
    expect(values(checkpoint, 'whole')).toEqual([0, 1, 2, 3, 4, 5]);
    expect(checkpoint.stateDict.get('transposed')!.shape).toEqual([3, 2]);
    expect(checkpoint.stateDict.get('empty')).toMatchObject({ shape: [0, 3], data: new Float32Array(0) });
    // Tensors own their data: writing one does not change another that shares the storage.
    (checkpoint.stateDict.get('whole')!.data as Float32Array)[4] = 99;
    expect(values(checkpoint, 'tail')).toEqual([4, 5]);
  });
});

describe('storage dtypes', () => {
  it('decodes every storage type; half and bfloat16 widen to float32 and keep their dtype name', () => {
    const checkpoint = read(
      [
        { name: 'half', storageType: 'HalfStorage', key: 'h', numel: 5, size: [5] },
        { name: 'bf16', storageType: 'BFloat16Storage', key: 'b', numel: 3, size: [3] },
        { name: 'double', storageType: 'DoubleStorage', key: 'd', numel: 2, size: [2] },
        { name: 'long', storageType: 'LongStorage', key: 'l', numel: 2, size: [2] },
        { name: 'int', storageType: 'IntStorage', key: 'i', numel: 2, size: [2] },
        { name: 'short', storageType: 'ShortStorage', key: 's', numel: 2, size: [2] },
        { name: 'char', storageType: 'CharStorage', key: 'c', numel: 2, size: [2] },
        { name: 'byte', storageType: 'ByteStorage', key: 'u', numel: 2, size: [2] },
        { name: 'bool', storageType: 'BoolStorage', key: 'o', numel: 3, size: [3] },
      ],
      {
        // 1, -2, 65504 (max), 2^-24 (smallest subnormal), -0
        h: u16le(0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000),
        // 1, -3, 3.140625
        b: u16le(0x3f80, 0xc040, 0x4049),
        d: new Uint8Array(Float64Array.from([0.1, -1e300]).buffer),
        l: new Uint8Array(BigInt64Array.from([-1n, 2n ** 40n]).buffer),
        i: new Uint8Array(Int32Array.from([-7, 2 ** 31 - 1]).buffer),
        s: new Uint8Array(Int16Array.from([-300, 300]).buffer),
        c: Uint8Array.from([0xff, 0x7f]),
        u: Uint8Array.from([0xff, 0x01]),
        o: Uint8Array.from([0, 1, 2]),
      },
    );
    const tensor = (name: string) => checkpoint.stateDict.get(name)!;
    expect(tensor('half')).toMatchObject({ dtype: 'float16', data: Float32Array.from([1, -2, 65504, 2 ** -24, -0]) });
    // ±Inf and NaN decode as such (and readCheckpoint then refuses them: see the non-finite tests).
    expect(decodeElements('float16', u16le(0xfc00, 0x7c00, 0x7e00), 3)).toEqual(
      Float32Array.from([-Infinity, Infinity, NaN]),
    );
    expect(tensor('bf16')).toMatchObject({ dtype: 'bfloat16', data: Float32Array.from([1, -3, 3.140625]) });
    expect(tensor('double')).toMatchObject({ dtype: 'float64', data: Float64Array.from([0.1, -1e300]) });
    expect(tensor('long')).toMatchObject({ dtype: 'int64', data: BigInt64Array.from([-1n, 2n ** 40n]) });
    expect(tensor('int')).toMatchObject({ dtype: 'int32', data: Int32Array.from([-7, 2 ** 31 - 1]) });
    expect(tensor('short')).toMatchObject({ dtype: 'int16', data: Int16Array.from([-300, 300]) });
    expect(tensor('char')).toMatchObject({ dtype: 'int8', data: Int8Array.from([-1, 127]) });
    expect(tensor('byte')).toMatchObject({ dtype: 'uint8', data: Uint8Array.from([255, 1]) });
    expect(tensor('bool')).toMatchObject({ dtype: 'bool', data: Uint8Array.from([0, 1, 1]) });
  });

  it('accepts dtype globals, CUDA storages and UntypedStorage as storage types', () => {
    const checkpoint = read(
      [
        { name: 'dtype_form', storageType: 'float32', key: '0', numel: 6, size: [6] },
        { name: 'cuda', storageModule: 'torch.cuda', storageType: 'FloatStorage', key: '1', numel: 2, size: [2] },
        {
          name: 'untyped',
          storageModule: 'torch.storage',
          storageType: 'UntypedStorage',
          key: '2',
          numel: 3,
          size: [3],
        },
      ],
      { '0': six, '1': float32Bytes([7, 8]), '2': Uint8Array.from([9, 8, 7]) },
    );
    expect(values(checkpoint, 'dtype_form')).toEqual([0, 1, 2, 3, 4, 5]);
    expect(values(checkpoint, 'cuda')).toEqual([7, 8]);
    expect(checkpoint.stateDict.get('untyped')).toMatchObject({ dtype: 'uint8', data: Uint8Array.from([9, 8, 7]) });
  });

  it('honours a big-endian byteorder record', () => {
    const bigEndian = new Uint8Array(8);
    new DataView(bigEndian.buffer).setFloat32(0, 1.5, false);
    new DataView(bigEndian.buffer).setFloat32(4, -2.25, false);
    const checkpoint = read(
      [{ name: 'w', storageType: 'FloatStorage', key: '0', numel: 2, size: [2] }],
      { '0': bigEndian },
      { byteorder: 'big' },
    );
    expect(values(checkpoint, 'w')).toEqual([1.5, -2.25]);
  });
});

describe('where the weights are', () => {
  const tensor: TensorSpec = { name: 'w', storageType: 'FloatStorage', key: '0', numel: 6, size: [6] };

  it('accepts a bare state dict, a state_dict entry, nn.Parameter wrappers and DataParallel prefixes', () => {
    const bare = readCheckpoint(torchZip(pickle(2, stateDictPickle([tensor])), { '0': six }));
    expect(values(bare, 'w')).toEqual([0, 1, 2, 3, 4, 5]);
    expect(bare.extras).toEqual({});

    const underStateDict = readCheckpoint(
      torchZip(
        pickle(
          2,
          dictPickle([
            ['state_dict', stateDictPickle([tensor])],
            ['step', int(3)],
          ]),
        ),
        { '0': six },
      ),
    );
    expect(values(underStateDict, 'w')).toEqual([0, 1, 2, 3, 4, 5]);
    expect(underStateDict.extras).toEqual({ step: 3 });

    const parameter = bytesOf(
      global('torch._utils', '_rebuild_parameter'),
      tuple(tensorPickle(tensor), OP.NEWTRUE, global('collections', 'OrderedDict'), OP.EMPTY_TUPLE, OP.REDUCE),
      OP.REDUCE,
    );
    const wrapped = readCheckpoint(torchZip(pickle(2, dictPickle([['module.w', parameter]])), { '0': six }));
    expect(values(wrapped, 'w')).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('reads deflated entries (a re-zipped checkpoint) the same as stored ones', () => {
    const checkpoint = read([tensor], { '0': six }, { deflate: true, prefix: 'efficientvit_m9' });
    expect(values(checkpoint, 'w')).toEqual([0, 1, 2, 3, 4, 5]);
  });
});

describe('rejections', () => {
  const tensor: TensorSpec = { name: 'w', storageType: 'FloatStorage', key: '0', numel: 6, size: [6] };

  it('unknown storage dtype → unknown-dtype', () => {
    expect(codeOf(() => read([{ ...tensor, storageType: 'ComplexFloatStorage' }], { '0': six }))).toBe('unknown-dtype');
    expect(codeOf(() => read([{ ...tensor, storageType: 'QInt8Storage' }], { '0': six }))).toBe('unknown-dtype');
  });

  it('a storage record missing from the zip → missing-tensor', () => {
    expect(codeOf(() => read([tensor], { other: six }))).toBe('missing-tensor');
  });

  it('a storage smaller than its view → corrupt-tensor', () => {
    expect(codeOf(() => read([tensor], { '0': six.subarray(0, 20) }))).toBe('corrupt-tensor'); // record shorter than numel
    expect(codeOf(() => read([{ ...tensor, size: [7] }], { '0': six }))).toBe('corrupt-tensor'); // view past the end
    expect(codeOf(() => read([{ ...tensor, size: [2], offset: 5 }], { '0': six }))).toBe('corrupt-tensor');
    expect(codeOf(() => read([{ ...tensor, size: [3, 2], stride: [2, 2] }], { '0': six }))).toBe('corrupt-tensor');
    // An expanded view (stride 0) of a huge size would demand an unbounded allocation from a tiny file.
    expect(codeOf(() => read([{ ...tensor, size: [2 ** 40], stride: [0] }], { '0': six }))).toBe('corrupt-tensor');
  });

  it('no state dict → no-state-dict', () => {
    expect(codeOf(() => readCheckpoint(torchZip(pickle(2, dictPickle([['epoch', int(1)]])), {})))).toBe(
      'no-state-dict',
    );
    expect(codeOf(() => readCheckpoint(torchZip(pickle(2, dictPickle([['model', str('not weights')]])), {})))).toBe(
      'no-state-dict',
    );
    expect(codeOf(() => readCheckpoint(torchZip(pickle(2, int(5)), {})))).toBe('no-state-dict');
  });

  it('a cut zip → truncated; damaged structure → corrupt-archive', () => {
    const zip = build([tensor], { '0': six });
    for (const keep of [zip.length - 1, zip.length - 30, Math.floor(zip.length / 2), 10]) {
      expect(
        codeOf(() => readCheckpoint(zip.subarray(0, keep))),
        `first ${keep} bytes`,
      ).toBe('truncated');
    }
    // Point the first central-directory record's local-header offset past the data.
    const damaged = zip.slice();
    const firstRecord = Buffer.from(damaged).indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    new DataView(damaged.buffer).setUint32(firstRecord + 42, damaged.length - 40, true);
    expect(codeOf(() => readCheckpoint(damaged))).toBe('corrupt-archive');
    // A zip that is not a torch.save archive.
    expect(codeOf(() => readCheckpoint(torchZip(pickle(2, int(1)), {}, { prefix: 'a/b' })))).toBe('corrupt-archive');
  });

  it('bytes that are no checkpoint → unknown-format; a pre-1.6 torch.save pickle → unsupported-format', () => {
    expect(codeOf(() => readCheckpoint(new TextEncoder().encode('<html>not found</html>')))).toBe('unknown-format');
    expect(codeOf(() => readCheckpoint(new Uint8Array(0)))).toBe('unknown-format');
    expect(codeOf(() => readCheckpoint(pickle(2, int(1))))).toBe('unsupported-format');
  });
});
