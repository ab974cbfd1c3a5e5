/**
 * The float64 reference forward pass against the official PyTorch logits (M0, M1), the optimized export of
 * M2–M5 against the reference on synthetic trained-looking weights, and the state-dict checks both rely on.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectedParameters, validateStateDict } from '../../../models/efficientvit.js';
import { CheckpointError, readCheckpoint, type StateDict } from '../../../models/toolchain/checkpoint/index.js';
import { exportOnnx } from '../../../models/toolchain/export/index.js';
import { referenceForward, referenceOutputs } from '../../../models/toolchain/reference.js';
import type { InferenceBackend } from '../../../worker/core/inference/backend.js';
import { createOrtWebBackend } from '../../../worker/core/inference/ort-web.js';
import { GOLDEN_VARIANTS, goldenBatch, maxAbsDiff, readGolden, rows, topK } from '../../helpers/golden.js';
import { syntheticStateDict } from '../../helpers/synthetic.js';
import type { Variant } from '../../../worker/core/manifest/manifest.js';

/** Golden logits were computed in float64 and stored as float32: agreement is limited by that rounding. */
const REFERENCE_TOLERANCE = 1e-5;
/** Images the reference runs on (it is slow: about a second per image for the larger variants). */
const IMAGES = [0, 1];

function loadFixture(variant: 'm0' | 'm1'): StateDict {
  return readCheckpoint(new Uint8Array(readFileSync(readGolden(variant).checkpointPath))).stateDict;
}

function wasmBackend(): InferenceBackend {
  const require = createRequire(import.meta.url);
  const file = path.join(path.dirname(require.resolve('onnxruntime-web/wasm')), 'ort-wasm-simd-threaded.wasm');
  return createOrtWebBackend(new Uint8Array(readFileSync(file)));
}

describe('float64 reference vs official PyTorch logits', () => {
  it.each(GOLDEN_VARIANTS)('%s: logits within 1e-5, top-5 identical', (variant) => {
    const golden = readGolden(variant);
    const { data } = goldenBatch(golden, IMAGES);
    const logits = referenceForward(loadFixture(variant), variant, data, IMAGES.length);
    expect(maxAbsDiff(logits, rows(golden.logits, golden.classes, IMAGES))).toBeLessThan(REFERENCE_TOLERANCE);
    expect(topK(logits, golden.classes)).toEqual(IMAGES.map((i) => golden.top5[i]));
  });
});

describe('optimized export vs reference on synthetic weights (M2–M5)', () => {
  let backend: InferenceBackend;
  beforeAll(() => {
    backend = wasmBackend();
  });

  it.each(['m2', 'm3', 'm4', 'm5'] as Variant[])(
    '%s: onnxruntime-web logits and embedding (the pooled features) within 1e-3 of the reference, top-5 identical',
    async (variant) => {
      const { data, dims } = goldenBatch(readGolden('m0'), IMAGES);
      const stateDict = syntheticStateDict(variant, {
        seed: 20230607 + variant.charCodeAt(1),
        calibration: { data, batch: IMAGES.length },
      });
      const { logits: reference, embedding } = referenceOutputs(stateDict, variant, data, IMAGES.length);
      // The synthetic weights must tell images apart, or top-5 agreement would say little.
      const referenceTop5 = topK(reference, 1000);
      expect(referenceTop5[0][0]).not.toBe(referenceTop5[1][0]);

      const session = await backend.load(exportOnnx(stateDict, variant, { graph: 'optimized' }));
      try {
        const out = await session.run(data, dims);
        expect(out.dims).toEqual([IMAGES.length, 1000]);
        expect(maxAbsDiff(out.data, reference)).toBeLessThan(1e-3);
        expect(topK(out.data, 1000)).toEqual(referenceTop5);
        // C = the last stage's width: M2 224, M3 320, M4 384, M5 384.
        const width = { m2: 224, m3: 320, m4: 384, m5: 384 }[variant as 'm2'];
        expect(out.embedding?.dims).toEqual([IMAGES.length, width]);
        expect(maxAbsDiff(out.embedding!.data, embedding)).toBeLessThan(1e-3);
      } finally {
        await session.release();
      }
    },
  );
});

describe('state dict validation', () => {
  it('loading the M1 checkpoint as M0 fails with shape-mismatch on the first tensor that does not fit', () => {
    const m1 = loadFixture('m1');
    const attempt = () => referenceForward(m1, 'm0', new Float32Array(3 * 224 * 224), 1);
    expect(attempt).toThrow(CheckpointError);
    expect(attempt).toThrow(
      expect.objectContaining({ code: 'shape-mismatch', message: expect.stringContaining("'patch_embed.0.c.weight'") }),
    );
  });

  it('a missing tensor is missing-tensor, named', () => {
    const m0 = new Map(loadFixture('m0'));
    m0.delete('blocks2.3.mixer.m.attn.dws.2.bn.running_var');
    expect(() => validateStateDict(m0, 'm0')).toThrow(
      expect.objectContaining({
        code: 'missing-tensor',
        message: expect.stringContaining("'blocks2.3.mixer.m.attn.dws.2.bn.running_var'"),
      }),
    );
  });

  it('a tensor the model does not have is unexpected-tensor', () => {
    const m0 = new Map(loadFixture('m0'));
    m0.set('head_dist.l.bias', { dtype: 'float32', shape: [1000], data: new Float32Array(1000) });
    expect(() => validateStateDict(m0, 'm0')).toThrow(
      expect.objectContaining({ code: 'unexpected-tensor', message: expect.stringContaining('head_dist.l.bias') }),
    );
  });

  it('a stored attention_bias_idxs table that differs from the official offsets is refused', () => {
    const m0 = new Map(loadFixture('m0'));
    const name = 'blocks1.0.mixer.m.attn.attention_bias_idxs';
    const idxs = m0.get(name)!;
    const tampered = BigInt64Array.from(idxs.data as BigInt64Array);
    tampered[5] += 1n;
    m0.set(name, { ...idxs, data: tampered });
    expect(() => validateStateDict(m0, 'm0')).toThrow(expect.objectContaining({ code: 'bad-attention-bias-idxs' }));
  });

  it("normalizes M1's 2-D [out, in] 1×1 conv weights to [out, in, 1, 1] and keeps every expected tensor", () => {
    const m1 = loadFixture('m1');
    const name = 'blocks1.0.ffn0.m.pw1.c.weight';
    expect(m1.get(name)!.shape).toEqual([256, 128]);
    const normalized = validateStateDict(m1, 'm1');
    expect(normalized.get(name)!.shape).toEqual([256, 128, 1, 1]);
    expect(normalized.get(name)!.data).toBe(m1.get(name)!.data);
    for (const spec of expectedParameters('m1')) {
      if (spec.role === 'parameter') expect(normalized.get(spec.name)?.shape, spec.name).toEqual(spec.shape);
    }
  });
});
