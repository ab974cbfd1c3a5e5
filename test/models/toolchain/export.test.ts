/**
 * The fp32 ONNX exports (naive and optimized graphs) of the fixture checkpoints reproduce the official PyTorch
 * logits, in onnxruntime-node (CPU) and onnxruntime-web's wasm backend (run in Node), at batch 8 and batch 1.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, readCheckpoint } from '../../../models/toolchain/checkpoint/index.js';
import { EXPORT_OPSET, exportOnnx, type GraphKind } from '../../../models/toolchain/export/index.js';
import type { InferenceBackend, ModelSession } from '../../../worker/core/inference/backend.js';
import { createOrtNodeBackend } from '../../../worker/runtimes/node/inference/ort-node.js';
import { createOrtWebBackend } from '../../../worker/core/inference/ort-web.js';
import { efficientVitLayout } from '../../../models/efficientvit.js';
import { referenceOutputs } from '../../../models/toolchain/reference.js';
import {
  GOLDEN_VARIANTS,
  goldenBatch,
  maxAbsDiff,
  readGolden,
  rows,
  topK,
  type GoldenSet,
  type GoldenVariant,
} from '../../helpers/golden.js';

const { onnx } = onnxProto;
const GRAPHS: GraphKind[] = ['naive', 'optimized'];
/** The bar for an fp32 export against the official float64 logits. */
const GOLDEN_TOLERANCE = 1e-3;

function wasmBackend(): InferenceBackend {
  const require = createRequire(import.meta.url);
  const file = path.join(path.dirname(require.resolve('onnxruntime-web/wasm')), 'ort-wasm-simd-threaded.wasm');
  return createOrtWebBackend(new Uint8Array(readFileSync(file)));
}

const BACKENDS: Record<string, () => InferenceBackend> = {
  'onnxruntime-node': () => createOrtNodeBackend({ device: 'cpu', threads: 1 }),
  'onnxruntime-web wasm': wasmBackend,
};

const exports = new Map<string, Uint8Array>();
const pooledCache = new Map<string, Float64Array>();

/** The float64 reference's pooled features (computed once per variant and image set: it is slow). */
function pooled(variant: GoldenVariant, checkpoint: string, data: Float32Array, batch: number): Float64Array {
  const cacheKey = `${variant}/${batch}`;
  let features = pooledCache.get(cacheKey);
  if (!features) {
    const { stateDict } = readCheckpoint(new Uint8Array(readFileSync(checkpoint)));
    const reference = referenceOutputs(stateDict, variant, data, batch);
    expect(
      maxAbsDiff(Float32Array.from(reference.logits), rows(readGolden(variant).logits, 1000, [0, 3])),
    ).toBeLessThan(1e-4);
    features = reference.embedding;
    pooledCache.set(cacheKey, features);
  }
  return features;
}
const key = (variant: string, graph: GraphKind) => `${variant}/${graph}`;

beforeAll(() => {
  for (const variant of GOLDEN_VARIANTS) {
    const { stateDict } = readCheckpoint(new Uint8Array(readFileSync(readGolden(variant).checkpointPath)));
    for (const graph of GRAPHS) exports.set(key(variant, graph), exportOnnx(stateDict, variant, { graph }));
  }
});

describe('exported model interface', () => {
  it.each(GOLDEN_VARIANTS.flatMap((v) => GRAPHS.map((g) => [v, g] as const)))(
    '%s %s: input [N,3,224,224], output [N,1000], opset and metadata',
    (variant, graph) => {
      const model = onnx.ModelProto.decode(exports.get(key(variant, graph))!);
      const graphProto = model.graph!;
      expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', EXPORT_OPSET]]);
      const signature = (values: typeof graphProto.input) =>
        (values ?? []).map((v) => [
          v.name,
          v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue)),
        ]);
      expect(signature(graphProto.input)).toEqual([['input', ['N', 3, 224, 224]]]);
      const width = efficientVitLayout(variant).head.inFeatures; // M0/M1: 192, M5: 384
      expect(signature(graphProto.output)).toEqual([
        ['logits', ['N', 1000]],
        ['embedding', ['N', width]],
      ]);
      expect(Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]))).toMatchObject({ variant, graph });
      expect(model.docString).toContain(graph);
      // Every BatchNorm2d is folded away; only the naive graph keeps the head's BatchNorm1d.
      const ops = (graphProto.node ?? []).map((n) => n.opType);
      expect(ops.filter((op) => op === 'BatchNormalization')).toHaveLength(graph === 'naive' ? 1 : 0);
    },
  );
});

describe.each(Object.keys(BACKENDS))('%s', (backendName) => {
  const sessions = new Map<string, ModelSession>();

  beforeAll(async () => {
    const backend = BACKENDS[backendName]();
    for (const [name, bytes] of exports) sessions.set(name, await backend.load(bytes));
  });

  describe.each(GOLDEN_VARIANTS)('%s', (variant) => {
    let golden: GoldenSet;
    beforeAll(() => {
      golden = readGolden(variant);
    });

    it.each(GRAPHS)('%s graph, batch 8: every logit within 1e-3 of PyTorch, top-5 identical', async (graph) => {
      const { data, dims } = goldenBatch(golden, [0, 1, 2, 3, 4, 5, 6, 7]);
      const out = await sessions.get(key(variant, graph))!.run(data, dims);
      expect(out.dims).toEqual([8, 1000]);
      expect(maxAbsDiff(out.data, golden.logits)).toBeLessThan(GOLDEN_TOLERANCE);
      expect(topK(out.data, 1000)).toEqual(golden.top5);
    });

    it.each(GRAPHS)('%s graph, batch 1, image by image: same bar', async (graph) => {
      for (let image = 0; image < golden.images.length; image++) {
        const { data, dims } = goldenBatch(golden, [image]);
        const out = await sessions.get(key(variant, graph))!.run(data, dims);
        expect(out.dims).toEqual([1, 1000]);
        expect(maxAbsDiff(out.data, rows(golden.logits, 1000, [image]))).toBeLessThan(GOLDEN_TOLERANCE);
        expect(topK(out.data, 1000)[0]).toEqual(golden.top5[image]);
      }
    });

    it.each(GRAPHS)(
      '%s graph, dynamic batch: one session serves batches 3 and 2 (images in any order)',
      async (graph) => {
        const session = sessions.get(key(variant, graph))!;
        for (const images of [
          [5, 0, 7],
          [2, 6],
        ]) {
          const { data, dims } = goldenBatch(golden, images);
          const out = await session.run(data, dims);
          expect(out.dims).toEqual([images.length, 1000]);
          expect(maxAbsDiff(out.data, rows(golden.logits, 1000, images))).toBeLessThan(GOLDEN_TOLERANCE);
        }
      },
    );

    it.each(GRAPHS)("%s graph: the embedding output is the float64 reference's pooled features", async (graph) => {
      const images = [0, 3];
      const { data, dims } = goldenBatch(golden, images);
      const out = await sessions.get(key(variant, graph))!.run(data, dims);
      const expected = pooled(variant, golden.checkpointPath, data, images.length);
      expect(out.embedding?.dims).toEqual([images.length, efficientVitLayout(variant).head.inFeatures]);
      expect(maxAbsDiff(out.embedding!.data, Float32Array.from(expected))).toBeLessThan(GOLDEN_TOLERANCE);
      // The reference's logits from the same pass are PyTorch's: the pooled features are the official model's.
      expect(maxAbsDiff(out.data, rows(golden.logits, 1000, images))).toBeLessThan(GOLDEN_TOLERANCE);
    });

    it('optimized graph matches the naive graph: logits within 1e-4, top-5 identical', async () => {
      const { data, dims } = goldenBatch(golden, [0, 1, 2, 3, 4, 5, 6, 7]);
      const naive = await sessions.get(key(variant, 'naive'))!.run(data, dims);
      const optimized = await sessions.get(key(variant, 'optimized'))!.run(data, dims);
      expect(maxAbsDiff(optimized.data, naive.data)).toBeLessThan(1e-4);
      expect(topK(optimized.data, 1000)).toEqual(topK(naive.data, 1000));
    });
  });
});

describe('export input checks', () => {
  it('refuses a checkpoint of another variant, naming the first tensor that does not fit', () => {
    const { stateDict } = readCheckpoint(new Uint8Array(readFileSync(readGolden('m1').checkpointPath)));
    const attempt = () => exportOnnx(stateDict, 'm0', { graph: 'optimized' });
    expect(attempt).toThrow(CheckpointError);
    expect(attempt).toThrow(
      expect.objectContaining({ code: 'shape-mismatch', message: expect.stringContaining("'patch_embed.0.c.weight'") }),
    );
  });
});
