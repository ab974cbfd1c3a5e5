/** The real fixture checkpoints (official .pth, full training .pth, timm safetensors) through readCheckpoint. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCheckpoint, TensorSummary, type Checkpoint } from '../../../../models/toolchain/checkpoint/index.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures/checkpoints');
const load = (name: string): Checkpoint => readCheckpoint(readFileSync(path.join(fixtures, name)), name);

const bytesOf = (data: ArrayBufferView) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

describe('fixture checkpoints', () => {
  const m0Pth = load('efficientvit_m0.synthetic.pth');
  const m0Timm = load('efficientvit_m0.synthetic.timm.safetensors');
  const m1Pth = load('efficientvit_m1.synthetic.pth');

  it('reads the M0 training checkpoint in official naming', () => {
    expect(m0Pth.format).toBe('pth');
    expect(m0Pth.naming).toBe('official');
    expect(m0Pth.stateDict.size).toBe(699);
    const stem = m0Pth.stateDict.get('patch_embed.0.c.weight')!;
    expect(stem.dtype).toBe('float32');
    expect(stem.shape).toEqual([8, 3, 3, 3]);
    expect(stem.data).toBeInstanceOf(Float32Array);
    expect(stem.data.length).toBe(216);
    const idxs = m0Pth.stateDict.get('blocks1.0.mixer.m.attn.attention_bias_idxs')!;
    expect(idxs.dtype).toBe('int64');
    expect(idxs.shape).toEqual([49, 49]);
    // Window 7×7: the offset between a point and itself is (0, 0), index 0 in the official table.
    expect(idxs.data[0]).toBe(0n);
    for (const name of [
      'blocks1.0.mixer.m.attn.qkvs.0.bn.running_var',
      'blocks2.1.se.fc1.weight',
      'head.l.weight',
      'head.bn.running_mean',
    ]) {
      expect(m0Pth.stateDict.has(name), name).toBe(true);
    }
    expect(m0Pth.stateDict.get('head.l.weight')!.shape).toEqual([1000, 192]);
    expect(m0Pth.stateDict.get('patch_embed.0.bn.num_batches_tracked')).toMatchObject({ dtype: 'int64', shape: [] });
  });

  it('reads the training extras as inert data', () => {
    const { extras } = m0Pth;
    expect(Object.keys(extras).sort()).toEqual(['args', 'epoch', 'lr_scheduler', 'model_ema', 'optimizer', 'scaler']);
    expect(extras.epoch).toBe(299);
    expect(extras.model_ema).toBeNull();
    expect(extras.scaler).toEqual({ scale: 65536 });
    expect(extras.lr_scheduler).toEqual({ last_epoch: 299, base_lrs: [0.001] });
    // argparse.Namespace (NEWOBJ + BUILD) as a plain record of its attributes.
    expect(extras.args).toEqual({
      model: 'EfficientViT_M0',
      epochs: 300,
      lr: 0.001,
      input_size: 224,
      distillation_type: 'none',
      data_path: '/data/imagenet',
      seed: 0,
    });
    // Optimizer tensors are described, not materialized.
    const state = (extras.optimizer as { state: Record<string, Record<string, unknown>> }).state;
    expect(state['0'].exp_avg).toEqual(new TensorSummary('float32', [4]));
  });

  it('maps the timm safetensors names onto the official ones, bit for bit the same weights', () => {
    expect(m0Timm.format).toBe('safetensors');
    expect(m0Timm.naming).toBe('timm');
    const officialWithoutIdxs = [...m0Pth.stateDict.keys()].filter((name) => !name.endsWith('attention_bias_idxs'));
    expect([...m0Timm.stateDict.keys()].sort()).toEqual(officialWithoutIdxs.sort());
    for (const [name, tensor] of m0Timm.stateDict) {
      const official = m0Pth.stateDict.get(name)!;
      expect(tensor.dtype, name).toBe(official.dtype);
      expect(tensor.shape, name).toEqual(official.shape);
      expect(bytesOf(tensor.data).equals(bytesOf(official.data)), name).toBe(true);
    }
    expect(m0Timm.extras).toEqual({ metadata: { format: 'pt' } });
  });

  it('reads the M1 model-zoo-style checkpoint with its 2-D 1×1 conv weights as stored', () => {
    expect(m1Pth.format).toBe('pth');
    expect(m1Pth.extras).toEqual({});
    expect(m1Pth.stateDict.size).toBe(615);
    expect(m1Pth.stateDict.get('patch_embed.0.c.weight')!.shape).toEqual([16, 3, 3, 3]);
    const pointwise = m1Pth.stateDict.get('blocks1.0.ffn0.m.pw1.c.weight')!;
    expect(pointwise.shape).toEqual([256, 128]);
    expect(pointwise.data.length).toBe(256 * 128);
    const twoD = [...m1Pth.stateDict].filter(([name, t]) => name.endsWith('.c.weight') && t.shape.length === 2);
    expect(twoD.length).toBeGreaterThan(0);
  });

  it('sniffs the format from the bytes, not the file name', () => {
    const safetensors = readFileSync(path.join(fixtures, 'efficientvit_m0.synthetic.timm.safetensors'));
    expect(readCheckpoint(safetensors, 'misleading.pth').format).toBe('safetensors');
    const pth = readFileSync(path.join(fixtures, 'efficientvit_m1.synthetic.pth'));
    expect(readCheckpoint(pth, 'misleading.safetensors').format).toBe('pth');
  });
});
