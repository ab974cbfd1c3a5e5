/**
 * The quantization passes on a small network built here — every op kind EfficientViT uses (dense, depthwise and
 * 1×1 convs with ReLU, residual and bias Adds, Split/Reshape/Transpose, MatMul of two activations, Softmax, Concat,
 * squeeze-excite, Gemm head) — calibrated and evaluated on real preprocessed images, run in real onnxruntime
 * sessions (node CPU and web wasm).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  calibrateRanges,
  CalibrationError,
  preprocessImageFiles,
  splitCalibrationSet,
} from '../../../../models/toolchain/quantize/calibration.js';
import { GraphBuilder } from '../../../../models/toolchain/onnx/graph-builder.js';
import { seededRandom } from '../../../helpers/random.js';
import { decodeModel, graphOf, GraphIndex } from '../../../../models/toolchain/quantize/graph.js';
import { quantizeModel } from '../../../../models/toolchain/quantize/index.js';
import { computeQuantParams, roundHalfToEven } from '../../../../models/toolchain/quantize/params.js';
import { planStaticQuantization } from '../../../../models/toolchain/quantize/plan.js';
import { quantizeStatic } from '../../../../models/toolchain/quantize/qdq.js';
import { simulateQuantization } from '../../../../models/toolchain/quantize/simulate.js';
import { readFloatTensor, readIntegerTensor, tensorDims } from '../../../../models/toolchain/quantize/tensors.js';
import { quantizeWeightsOnly } from '../../../../models/toolchain/quantize/weight-only.js';
import { createOrtNodeBackend } from '../../../../worker/runtimes/node/inference/ort-node.js';
import { createOrtWebBackend } from '../../../../worker/core/inference/ort-web.js';
import type { InferenceBackend } from '../../../../worker/core/inference/backend.js';
import { nodeToolchainHost } from '../../../../scripts/lib/node-host.js';

const repoRoot = path.resolve(import.meta.dirname, '../../../..');
const shared = path.resolve(repoRoot, '../shared');
const SIDE = 224;

/** Deterministic weights (mulberry32), He-scaled so activations stay near unit scale. */
function randomWeights(count: number, fanIn: number, seed: number): Float32Array {
  const next = seededRandom(seed).uniform;
  const bound = Math.sqrt(6 / fanIn);
  return Float32Array.from({ length: count }, () => (next() * 2 - 1) * bound);
}

/** The mini network; `upTo` makes an fp32 model that outputs that intermediate value instead of the logits. */
function miniNetwork(upTo?: 'stem' | 'attention'): Uint8Array {
  const g = new GraphBuilder('mini');
  const w = (name: string, dims: number[], seed: number) => {
    const fanIn = dims.slice(1).reduce((n, d) => n * d, 1);
    return g.addFloatInitializer(
      name,
      randomWeights(
        dims.reduce((n, d) => n * d, 1),
        fanIn,
        seed,
      ),
      dims,
    );
  };
  const b = (name: string, n: number, seed: number) => g.addFloatInitializer(name, randomWeights(n, 16, seed), [n]);
  const input = g.addInput('input', 'float32', ['N', 3, SIDE, SIDE]);
  const stem = g.node(
    'Relu',
    [
      g.node(
        'Conv',
        [input, w('stem.w', [16, 3, 4, 4], 1), b('stem.b', 16, 2)],
        { kernel_shape: [4, 4], strides: [4, 4] },
        'stem',
      ),
    ],
    {},
    'stem_relu',
  );
  const finish = (value: string, dims: (number | string)[]) => {
    g.addOutput(value, 'float32', dims);
    return g.toBytes({ opset: 17, producerName: 'quantize-graph.test' });
  };
  if (upTo === 'stem') return finish(stem, ['N', 16, 56, 56]);
  const dw = g.node(
    'Conv',
    [stem, w('dw.w', [16, 1, 3, 3], 3), b('dw.b', 16, 4)],
    { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 16 },
    'dw',
  );
  const residual = g.node('Add', [stem, dw], {}, 'residual');
  const tokens = g.node(
    'Conv',
    [residual, w('qkv.w', [24, 16, 8, 8], 5), b('qkv.b', 24, 6)],
    { kernel_shape: [8, 8], strides: [8, 8] },
    'qkv',
  );
  const [q, k, v] = g.nodeMulti('Split', [tokens, g.int64([8, 8, 8])], 3, { axis: 1 }, 'split');
  const flat = g.int64([0, 0, -1]);
  const qt = g.node('Transpose', [g.node('Reshape', [q, flat], {}, 'q')], { perm: [0, 2, 1] }, 'qt');
  const scores = g.node('MatMul', [qt, g.node('Reshape', [k, flat], {}, 'k')], {}, 'scores');
  const scaled = g.node('Mul', [scores, g.addFloatInitializer('scale', [8 ** -0.5], [])], {}, 'scaled');
  const biased = g.node(
    'Add',
    [scaled, g.addFloatInitializer('attention_bias', randomWeights(49 * 49, 1, 7), [49, 49])],
    {},
    'biased',
  );
  const attention = g.node('Softmax', [biased], { axis: -1 }, 'attention');
  const out = g.node(
    'MatMul',
    [g.node('Reshape', [v, flat], {}, 'v'), g.node('Transpose', [attention], { perm: [0, 2, 1] }, 'attention_t')],
    {},
    'attended',
  );
  const mixed = g.node(
    'Concat',
    [g.node('Reshape', [out, g.int64([-1, 8, 7, 7])], {}, 'attended_map'), q],
    { axis: 1 },
    'mixed',
  );
  if (upTo === 'attention') return finish(attention, ['N', 49, 49]);
  const squeeze = g.node('GlobalAveragePool', [mixed], {}, 'se_pool');
  const gate = g.node(
    'Sigmoid',
    [g.node('Conv', [squeeze, w('se.w', [16, 16, 1, 1], 8), b('se.b', 16, 9)], {}, 'se_fc')],
    {},
    'se_gate',
  );
  const excited = g.node('Mul', [mixed, gate], {}, 'excited');
  const pooled = g.node('Flatten', [g.node('GlobalAveragePool', [excited], {}, 'pool')], { axis: 1 }, 'features');
  const logits = g.node('Gemm', [pooled, w('head.w', [10, 16], 10), b('head.b', 10, 11)], { transB: 1 }, 'head');
  return finish(logits, ['N', 10]);
}

/** The QuantizeLinear reading `tensor` and its parameters. */
function quantizationOf(onnx: Uint8Array, tensor: string): { scale: number; zeroPoint: number } | undefined {
  const graph = graphOf(decodeModel(onnx));
  const index = new GraphIndex(graph);
  const q = index.consumersOf(tensor).find((n) => n.opType === 'QuantizeLinear');
  if (!q) return undefined;
  const [, scale, zeroPoint] = q.input ?? [];
  return {
    scale: readFloatTensor(index.initializers.get(scale)!)[0],
    zeroPoint: readIntegerTensor(index.initializers.get(zeroPoint)!)[0],
  };
}

function uint8Params(range: { min: number; max: number }): { scale: number; zeroPoint: number } {
  const { scale, zeroPoint } = computeQuantParams(range, 'uint8');
  return { scale, zeroPoint };
}

function rangeOf(arrays: readonly Float32Array[]): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const a of arrays) for (const v of a) (min = Math.min(min, v)), (max = Math.max(max, v));
  return { min, max };
}

async function run(
  backend: InferenceBackend,
  onnx: Uint8Array,
  images: readonly Float32Array[],
): Promise<Float32Array[]> {
  const session = await backend.load(onnx);
  try {
    const outputs: Float32Array[] = [];
    for (const image of images) outputs.push((await session.run(image, [1, 3, SIDE, SIDE])).data.slice());
    return outputs;
  } finally {
    await session.release();
  }
}

const nodeCpu = createOrtNodeBackend({ threads: 1 });
const wasm = createOrtWebBackend(
  new Uint8Array(readFileSync(path.join(repoRoot, 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm'))),
);

describe('static QDQ on a small network', () => {
  const fp32 = miniNetwork();
  let calibration: Float32Array[];
  let heldOut: Float32Array[];

  beforeAll(async () => {
    const dir = path.join(shared, 'images/imagenet-sample');
    const files = readdirSync(dir)
      .filter((f) => /\.jpe?g$/i.test(f))
      .sort()
      .map((f) => path.join(dir, f));
    const split = splitCalibrationSet(files.slice(0, 24));
    calibration = await preprocessImageFiles(split.calibration, await nodeToolchainHost.imageCodec());
    heldOut = await preprocessImageFiles(split.heldOut, await nodeToolchainHost.imageCodec());
  });

  it('plans ORT-style: Relu after a quantized conv carries the Q, data movement shares its input parameters', () => {
    const plan = planStaticQuantization(new GraphIndex(graphOf(decodeModel(fp32))));
    expect(plan.tensors).toContain('stem_relu');
    expect(plan.tensors).not.toContain('stem');
    expect([...plan.fusedRelus].map((n) => n.output?.[0])).toEqual(['stem_relu']);
    // Split outputs → Reshape → Transpose all reuse the qkv conv's output parameters.
    for (const t of ['split_0', 'q', 'qt', 'k', 'v']) expect(plan.sharesParamsWith.get(t)).toBe('qkv');
    expect(plan.sharesParamsWith.get('attention_t')).toBe('attention');
    expect(plan.fixedRanges.get('attention')).toEqual({ min: 0, max: 1 });
    // The Gemm output is the graph output: it stays float (QGemm with float output).
    expect(plan.tensors).not.toContain('head');
    expect(plan.calibrated).toEqual(
      plan.tensors.filter((t) => !plan.sharesParamsWith.has(t) && !plan.fixedRanges.has(t)),
    );
  });

  it('keeps the requested parts in float', () => {
    const index = new GraphIndex(graphOf(decodeModel(fp32)));
    const names = (options: Parameters<typeof planStaticQuantization>[1]) =>
      new Set([...planStaticQuantization(index, options).nodes].map((n) => n.output?.[0]));
    const all = names({});
    for (const op of ['stem', 'residual', 'biased', 'attention', 'head', 'scaled']) expect(all.has(op)).toBe(true);
    const kept = names({
      keepFloat: { softmax: true, attentionBiasAdd: true, residualAdd: true, firstConv: true, head: true },
    });
    for (const op of ['stem', 'residual', 'biased', 'attention', 'head', 'features', 'pool'])
      expect(kept.has(op)).toBe(false);
    for (const op of ['dw', 'qkv', 'scores', 'attended', 'scaled', 'excited']) expect(kept.has(op)).toBe(true);
    expect(names({ ops: ['Conv'] })).toEqual(new Set(['stem', 'dw', 'qkv', 'se_fc']));
  });

  it('stores the parameters the calibration data imply (recomputed here from the images and fp32 activations)', async () => {
    const { model } = await quantizeStatic(fp32, calibration, { reduceRange: true, calibration: { backend: nodeCpu } });
    // The graph input: its range is the calibration images' own min/max.
    expect(quantizationOf(model, 'input')).toEqual(uint8Params(rangeOf(calibration)));
    // The stem's ReLU output, from an fp32 model cut after it.
    const stem = await run(nodeCpu, miniNetwork('stem'), calibration);
    const stemRange = rangeOf(stem);
    const stemParams = quantizationOf(model, 'stem_relu');
    expect(stemParams).toEqual(uint8Params(stemRange));
    expect(stemParams?.zeroPoint).toBe(0);
    expect(stemParams?.scale).toBe(Math.fround(stemRange.max / 255));
    // Softmax output: the fixed [0, 1] range.
    expect(quantizationOf(model, 'attention')).toEqual({ scale: Math.fround(1 / 255), zeroPoint: 0 });
    // Per-channel weights and int32 bias of the stem conv.
    const index = new GraphIndex(graphOf(decodeModel(model)));
    const fpIndex = new GraphIndex(graphOf(decodeModel(fp32)));
    const weights = readFloatTensor(fpIndex.initializers.get('stem.w')!);
    const scales = readFloatTensor(index.initializers.get('stem.w_scale')!);
    const quantized = readIntegerTensor(index.initializers.get('stem.w_quantized')!);
    expect(tensorDims(index.initializers.get('stem.w_quantized')!)).toEqual([16, 3, 4, 4]);
    for (let c = 0; c < 16; c++) {
      const channel = weights.subarray(c * 48, (c + 1) * 48);
      const absMax = Math.max(...Array.from(channel, Math.abs));
      expect(scales[c]).toBe(Math.fround(absMax / 64)); // 7-bit weights (reduceRange)
      for (let j = 0; j < 48; j++) expect(quantized[c * 48 + j]).toBe(roundHalfToEven(channel[j] / scales[c]) + 0); // + 0: no −0 in an Int8Array
    }
    const dq = index.producer.get(index.consumersOf('stem.w_quantized')[0].output![0])!;
    expect(Number(dq.attribute?.find((a) => a.name === 'axis')?.i)).toBe(0);
    const bias = readFloatTensor(fpIndex.initializers.get('stem.b')!);
    const biasQ = readIntegerTensor(index.initializers.get('stem.b_quantized')!);
    const inputScale = computeQuantParams(rangeOf(calibration), 'uint8').scale;
    for (let c = 0; c < 16; c++)
      expect(biasQ[c]).toBe(roundHalfToEven(bias[c] / Math.fround(inputScale * scales[c])) + 0);
  });

  it('the int8 graph computes what its parameters say: onnxruntime (both backends) vs the float simulation', async () => {
    const { model, activationParams } = await quantizeStatic(fp32, calibration, {
      reduceRange: true,
      calibration: { backend: nodeCpu },
    });
    const simulated = await run(nodeCpu, simulateQuantization(model), heldOut);
    const reference = await run(nodeCpu, fp32, heldOut);
    // The logits leave a float-output QGemm; its input (pooled features) is quantized with this step.
    const featureStep = activationParams.get('pool')!.scale;
    const headWeights = readFloatTensor(new GraphIndex(graphOf(decodeModel(fp32))).initializers.get('head.w')!);
    const maxRowL1 = Math.max(
      ...Array.from({ length: 10 }, (_, r) =>
        headWeights.subarray(r * 16, r * 16 + 16).reduce((s, x) => s + Math.abs(x), 0),
      ),
    );
    for (const backend of [nodeCpu, wasm]) {
      const fused = await run(backend, model, heldOut);
      let maxDiff = 0;
      let maxQuantizationEffect = 0;
      fused.forEach((row, i) =>
        row.forEach((v, j) => {
          maxDiff = Math.max(maxDiff, Math.abs(v - simulated[i][j]));
          maxQuantizationEffect = Math.max(maxQuantizationEffect, Math.abs(simulated[i][j] - reference[i][j]));
        }),
      );
      // Integer kernels requantize with their own rounding (a fixed-point or float multiplier instead of Div and
      // Round), so an intermediate value may land one step away and move what follows. Bound: as if every pooled
      // feature were one step off — one step times a head row's L1 norm. (Measured: about a third of it. With
      // full-range int8 weights, onnxruntime-node's x86 AVX2 kernels saturate and overshoot it 17-fold.)
      expect(maxDiff, backend.name).toBeLessThanOrEqual(featureStep * maxRowL1);
      // And the comparison is not vacuous: quantization itself moves the logits by more than that.
      expect(maxQuantizationEffect).toBeGreaterThan(maxDiff);
    }
  });

  it('weight-only int8 computes exactly the float model with dequantized weights, in both encodings', async () => {
    const dequantizeLinear = quantizeWeightsOnly(fp32, { tablesMinElements: 256 });
    const castMul = quantizeWeightsOnly(fp32, { encoding: 'cast-mul', tablesMinElements: 256 });
    const simulated = await run(nodeCpu, simulateQuantization(dequantizeLinear), heldOut);
    for (const backend of [nodeCpu, wasm]) {
      for (const model of [dequantizeLinear, castMul]) {
        const outputs = await run(backend, model, heldOut);
        outputs.forEach((row, i) =>
          row.forEach((v, j) =>
            expect(Math.abs(v - simulated[i][j])).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(simulated[i][j]))),
          ),
        );
      }
    }
    // The bias table (rank 2) became int8; the 1-D biases stayed float.
    const index = new GraphIndex(graphOf(decodeModel(castMul)));
    expect(index.initializers.get('attention_bias_quantized')?.dataType).toBe(3 /* INT8 */);
    expect(index.initializers.get('stem.b')?.dataType).toBe(1 /* FLOAT */);
  });

  it('calibration and quantization report bad input with machine-readable codes', async () => {
    const attention = miniNetwork('attention');
    await expect(calibrateRanges(attention, ['attention'], [])).rejects.toMatchObject({ code: 'no-samples' });
    await expect(
      calibrateRanges(attention, ['no_such_tensor'], calibration.slice(0, 1), { backend: nodeCpu }),
    ).rejects.toMatchObject({
      code: 'unknown-tensor',
    });
    await expect(calibrateRanges(attention, ['attention'], [new Float32Array(100)])).rejects.toBeInstanceOf(
      CalibrationError,
    );
    await expect(calibrateRanges(attention, ['attention'], [new Float32Array(100)])).rejects.toMatchObject({
      code: 'bad-sample',
    });
    // The passes' own input checks.
    await expect(quantizeModel(new TextEncoder().encode('not a model'), [])).rejects.toMatchObject({
      name: 'QuantizeError',
      code: 'invalid-model',
    });
    await expect(quantizeModel(new Uint8Array(0), [])).rejects.toMatchObject({ code: 'invalid-model' });
    await expect(quantizeModel(fp32, [], { method: 'static-qdq' })).rejects.toMatchObject({ code: 'no-samples' });
    // A range it does measure: softmax rows lie in [0, 1].
    const ranges = await calibrateRanges(attention, ['attention', 'scores'], calibration.slice(0, 2), {
      backend: nodeCpu,
    });
    const softmax = ranges.get('attention')!;
    expect(softmax.min).toBeGreaterThanOrEqual(0);
    expect(softmax.max).toBeLessThanOrEqual(1);
    const direct = rangeOf(await run(nodeCpu, attention, calibration.slice(0, 2)));
    expect(softmax).toEqual(direct);
  });
});
