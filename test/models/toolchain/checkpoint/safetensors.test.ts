/** safetensors built byte by byte: every dtype, header validation, and the timm → official name table. */
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../../../models/toolchain/checkpoint/index.js';
import { MAX_SAFETENSORS_HEADER, readSafetensorsFile } from '../../../../models/toolchain/checkpoint/safetensors.js';
import { officialNameFromTimm } from '../../../../models/efficientvit.js';
import { float32Bytes, safetensorsFile } from '../../../helpers/pickle.js';
import { checkpointErrorCode } from '../../../helpers/checkpoint-error.js';

const codeOf = checkpointErrorCode;

const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const u16le = (...halves: number[]) => new Uint8Array(Uint16Array.from(halves).buffer);

describe('safetensors reading', () => {
  it('decodes every supported dtype, in file order, with the metadata', () => {
    const parts: [string, string, number[], Uint8Array][] = [
      ['f32', 'F32', [2], float32Bytes([1.5, -2])],
      ['f16', 'F16', [2], u16le(0x3c00, 0x3555)],
      ['bf16', 'BF16', [1], u16le(0xbf80)],
      ['f64', 'F64', [1], new Uint8Array(Float64Array.from([Math.PI]).buffer)],
      ['i64', 'I64', [], new Uint8Array(BigInt64Array.from([-(2n ** 62n)]).buffer)],
      ['i32', 'I32', [1], new Uint8Array(Int32Array.from([-5]).buffer)],
      ['i16', 'I16', [1], new Uint8Array(Int16Array.from([-300]).buffer)],
      ['i8', 'I8', [1], Uint8Array.from([0x80])],
      ['u8', 'U8', [1], Uint8Array.from([200])],
      ['bool', 'BOOL', [2], Uint8Array.from([0, 1])],
      ['empty', 'F32', [0, 4], new Uint8Array(0)],
    ];
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let offset = 0;
    for (const [name, dtype, shape, data] of parts) {
      header[name] = { dtype, shape, data_offsets: [offset, offset + data.length] };
      offset += data.length;
    }
    const { stateDict, metadata } = readSafetensorsFile(safetensorsFile(header, concat(...parts.map((p) => p[3]))));
    expect(metadata).toEqual({ format: 'pt' });
    expect([...stateDict.keys()]).toEqual(parts.map((p) => p[0]));
    expect(stateDict.get('f32')).toEqual({ dtype: 'float32', shape: [2], data: Float32Array.from([1.5, -2]) });
    expect(stateDict.get('f16')).toEqual({
      dtype: 'float16',
      shape: [2],
      data: Float32Array.from([1, 0.333251953125]),
    });
    expect(stateDict.get('bf16')).toEqual({ dtype: 'bfloat16', shape: [1], data: Float32Array.from([-1]) });
    expect(stateDict.get('f64')!.data).toEqual(Float64Array.from([Math.PI]));
    expect(stateDict.get('i64')).toEqual({ dtype: 'int64', shape: [], data: BigInt64Array.from([-(2n ** 62n)]) });
    expect(stateDict.get('i32')!.data).toEqual(Int32Array.from([-5]));
    expect(stateDict.get('i16')!.data).toEqual(Int16Array.from([-300]));
    expect(stateDict.get('i8')!.data).toEqual(Int8Array.from([-128]));
    expect(stateDict.get('u8')!.data).toEqual(Uint8Array.from([200]));
    expect(stateDict.get('bool')).toEqual({ dtype: 'bool', shape: [2], data: Uint8Array.from([0, 1]) });
    expect(stateDict.get('empty')).toEqual({ dtype: 'float32', shape: [0, 4], data: new Float32Array(0) });
  });

  it('returns official-named files unchanged', () => {
    const file = safetensorsFile(
      { 'blocks1.0.mixer.m.attn.attention_biases': { dtype: 'F32', shape: [2], data_offsets: [0, 8] } },
      float32Bytes([3, 4]),
    );
    const checkpoint = readCheckpoint(file);
    expect(checkpoint.naming).toBe('official');
    expect([...checkpoint.stateDict.keys()]).toEqual(['blocks1.0.mixer.m.attn.attention_biases']);
  });
});

describe('safetensors rejections', () => {
  const entry = (dtype: string, shape: number[], begin: number, end: number) => ({
    dtype,
    shape,
    data_offsets: [begin, end],
  });
  const eight = float32Bytes([1, 2]);

  it('bad offsets → corrupt-tensor (overlap, gap, trailing bytes, reversed); past the end → truncated', () => {
    expect(
      codeOf(() =>
        readSafetensorsFile(safetensorsFile({ a: entry('F32', [2], 0, 8), b: entry('F32', [1], 4, 8) }, eight)),
      ),
    ).toBe('corrupt-tensor');
    expect(codeOf(() => readSafetensorsFile(safetensorsFile({ a: entry('F32', [1], 4, 8) }, eight)))).toBe(
      'corrupt-tensor',
    );
    expect(codeOf(() => readSafetensorsFile(safetensorsFile({ a: entry('F32', [1], 0, 4) }, eight)))).toBe(
      'corrupt-tensor',
    );
    expect(codeOf(() => readSafetensorsFile(safetensorsFile({ a: entry('F32', [1], 8, 4) }, eight)))).toBe(
      'corrupt-tensor',
    );
    expect(codeOf(() => readSafetensorsFile(safetensorsFile({ a: entry('F32', [4], 0, 16) }, eight)))).toBe(
      'truncated',
    );
    expect(
      codeOf(() =>
        readSafetensorsFile(safetensorsFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, -8] } }, eight)),
      ),
    ).toBe('corrupt-tensor');
  });

  it('dtype × shape not matching the byte length → corrupt-tensor', () => {
    expect(codeOf(() => readSafetensorsFile(safetensorsFile({ a: entry('F32', [3], 0, 8) }, eight)))).toBe(
      'corrupt-tensor',
    );
    expect(codeOf(() => readSafetensorsFile(safetensorsFile({ a: entry('F64', [2], 0, 8) }, eight)))).toBe(
      'corrupt-tensor',
    );
    expect(
      codeOf(() => readSafetensorsFile(safetensorsFile({ a: entry('U8', [2 ** 30, 2 ** 30, 2 ** 30], 0, 8) }, eight))),
    ).toBe('corrupt-tensor');
  });

  it('an oversized header length → header-too-large, before anything is allocated', () => {
    const file = safetensorsFile({ a: entry('F32', [2], 0, 8) }, eight, 2n ** 63n);
    expect(codeOf(() => readSafetensorsFile(file))).toBe('header-too-large');
    expect(codeOf(() => readSafetensorsFile(safetensorsFile({}, eight, BigInt(MAX_SAFETENSORS_HEADER + 1))))).toBe(
      'header-too-large',
    );
    // Within the limit but past the end of the file: truncated.
    expect(codeOf(() => readSafetensorsFile(safetensorsFile({ a: entry('F32', [2], 0, 8) }, eight, 10_000n)))).toBe(
      'truncated',
    );
  });

  it('unknown dtype → unknown-dtype; malformed header → corrupt-header; short file → truncated', () => {
    expect(codeOf(() => readSafetensorsFile(safetensorsFile({ a: entry('F8_E4M3', [8], 0, 8) }, eight)))).toBe(
      'unknown-dtype',
    );
    expect(codeOf(() => readSafetensorsFile(safetensorsFile({ a: entry('constructor', [8], 0, 8) }, eight)))).toBe(
      'unknown-dtype',
    );
    expect(codeOf(() => readSafetensorsFile(safetensorsFile('{"a": ', eight)))).toBe('corrupt-header');
    expect(codeOf(() => readSafetensorsFile(safetensorsFile('[1, 2]', eight)))).toBe('corrupt-header');
    expect(
      codeOf(() =>
        readSafetensorsFile(safetensorsFile({ a: { dtype: 'F32', shape: 'big', data_offsets: [0, 8] } }, eight)),
      ),
    ).toBe('corrupt-header');
    expect(codeOf(() => readSafetensorsFile(safetensorsFile({ __metadata__: { n: 1 } }, new Uint8Array(0))))).toBe(
      'corrupt-header',
    );
    expect(codeOf(() => readSafetensorsFile(new Uint8Array(5)))).toBe('truncated');
  });

  it('a timm-named file with a name outside efficientvit_msra → unknown-key', () => {
    const file = safetensorsFile(
      { 'stages.0.blocks.0.dw0.m.conv.weight': entry('F32', [1], 0, 4), pos_embed: entry('F32', [1], 4, 8) },
      eight,
    );
    expect(codeOf(() => readCheckpoint(file))).toBe('unknown-key');
  });
});

describe('timm → official name table', () => {
  it('maps every kind of name, including the deeper M5 stages', () => {
    const cases: [string, string][] = [
      ['patch_embed.conv1.conv.weight', 'patch_embed.0.c.weight'],
      ['patch_embed.conv4.bn.running_var', 'patch_embed.6.bn.running_var'],
      ['stages.0.blocks.0.mixer.m.attn.qkvs.0.bn.running_var', 'blocks1.0.mixer.m.attn.qkvs.0.bn.running_var'],
      ['stages.0.blocks.0.mixer.m.attn.attention_biases', 'blocks1.0.mixer.m.attn.attention_biases'],
      ['stages.1.downsample.res1.0.m.conv.weight', 'blocks2.0.0.m.c.weight'],
      ['stages.1.downsample.patchmerge.se.fc1.weight', 'blocks2.1.se.fc1.weight'],
      ['stages.1.downsample.patchmerge.conv3.conv.weight', 'blocks2.1.conv3.c.weight'],
      ['stages.2.downsample.res2.1.m.pw2.bn.bias', 'blocks3.2.1.m.pw2.bn.bias'],
      ['stages.1.blocks.2.ffn1.m.pw1.conv.weight', 'blocks2.5.ffn1.m.pw1.c.weight'],
      ['stages.2.blocks.3.mixer.m.attn.proj.1.conv.weight', 'blocks3.6.mixer.m.attn.proj.1.c.weight'],
      ['head.bn.running_mean', 'head.bn.running_mean'],
      ['head.linear.weight', 'head.l.weight'],
      ['head.linear.bias', 'head.l.bias'],
    ];
    for (const [timm, official] of cases) expect(officialNameFromTimm(timm), timm).toBe(official);
  });
});
