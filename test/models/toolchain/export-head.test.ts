/**
 * A trained head as a standalone ONNX model, on a real M0 export of the synthetic checkpoint and the golden
 * (official-preprocessing) images: the written files' logits against a float64 head on the base model's embedding,
 * the int8 file against the int8 base the service runs, and every way the export refuses (writing nothing).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../../models/toolchain/checkpoint/index.js';
import { exportOnnx } from '../../../models/toolchain/export/index.js';
import {
  exportHeadModels,
  exportTrainedHead,
  HeadExportError,
  headLogits,
  type ExportedHeadModel,
} from '../../../models/toolchain/export/head.js';
import { HEAD_FORMAT, type HeadFile } from '../../../worker/core/manifest/head.js';
import { EDGE_RECIPE, quantizeModel } from '../../../models/toolchain/quantize/index.js';
import type { ModelSession } from '../../../worker/core/inference/backend.js';
import { IMAGENET_PREPROCESSING, type ManifestModel } from '../../../worker/core/manifest/manifest.js';
import { BUILD_DIR_ENV } from '../../../models/toolchain/targets.js';
import { createOrtNodeBackend } from '../../../worker/runtimes/node/inference/ort-node.js';
import { nodeToolchainHost } from '../../../scripts/lib/node-host.js';
import { readGolden, sharedDir } from '../../helpers/golden.js';
import { seededRandom } from '../../helpers/random.js';

const PLANE = 3 * 224 * 224;
const golden = readGolden('m0');
const image = (i: number) => golden.input.slice(i * PLANE, (i + 1) * PLANE);
/** Images 0–3 verify the build; 4–7, which it never saw, check the written files. */
const verificationImages = [0, 1, 2, 3].map(image);
const unseen = { data: golden.input.slice(4 * PLANE, 8 * PLANE), dims: [4, 3, 224, 224] };

function seededHead(options: { seed: number; classes: number; dims?: number; scale?: number }): HeadFile {
  const { normal } = seededRandom(options.seed);
  const dims = options.dims ?? 192;
  const scale = options.scale ?? 1 / Math.sqrt(dims);
  // Stored as float32 values, as the trainer writes them.
  const f32 = (v: number) => Math.fround(v);
  return {
    format: HEAD_FORMAT,
    name: 'shoes',
    base: 'm0',
    dims,
    classes: options.classes,
    labels: Array.from({ length: options.classes }, (_, k) => `label-${k}`),
    weights: Array.from({ length: options.classes * dims }, () => f32(scale * normal())),
    bias: Array.from({ length: options.classes }, () => f32(0.1 * normal())),
    temperature: 1.5,
  };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i] - b[i]));
  return largest;
};

let dir: string;
let baseOnnx: string;
let baseFp32: Uint8Array;
const head = seededHead({ seed: 23, classes: 7 });
let built: ExportedHeadModel[];
const sessions: ModelSession[] = [];
const backend = createOrtNodeBackend({ device: 'cpu', threads: 1 });
const load = async (bytes: Uint8Array) => {
  const session = await backend.load(bytes);
  sessions.push(session);
  return session;
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'head-export-'));
  const { stateDict } = readCheckpoint(new Uint8Array(readFileSync(golden.checkpointPath)));
  baseFp32 = exportOnnx(stateDict, 'm0', { graph: 'optimized' });
  baseOnnx = path.join(dir, 'efficientvit_m0.fp32.onnx');
  writeFileSync(baseOnnx, baseFp32);
  built = await exportHeadModels({
    baseOnnx,
    head,
    outDir: path.join(dir, 'out'),
    precisions: ['fp32', 'int8'],
    host: nodeToolchainHost,
    verificationImages,
  });
});
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
  rmSync(dir, { recursive: true, force: true });
});

describe('exportHeadModels (m0 base, a seeded 7-label head)', () => {
  const file = (precision: string) => new Uint8Array(readFileSync(path.join(dir, 'out', `shoes.${precision}.onnx`)));

  it('writes one file per precision, described by what it returns', () => {
    expect(built.map((b) => [b.precision, b.file])).toEqual([
      ['fp32', 'shoes.fp32.onnx'],
      ['int8', 'shoes.int8.onnx'],
    ]);
    expect(readdirSync(path.join(dir, 'out')).sort()).toEqual(['shoes.fp32.onnx', 'shoes.int8.onnx']);
    for (const b of built) {
      const bytes = file(b.precision);
      expect(b.bytes).toBe(bytes.byteLength);
      expect(b.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(b.maxAbsLogitDelta).toBeLessThanOrEqual(1e-3);
    }
    // Reported as the base models' int8 is; a random head on random features still agrees with fp32 on these.
    const agreement = built[1].agreementVsFp32!;
    expect(agreement.images).toBe(4);
    expect(agreement.minCosine).toBeGreaterThan(0.99);
    expect(built[0].agreementVsFp32).toBeUndefined();
    // int8 holds the backbone as the base's int8 does: several times smaller.
    expect(built[0].bytes / built[1].bytes).toBeGreaterThan(3);
  });

  it('the graph: logits [N, K] first, the embedding kept, labels and temperature in the metadata', () => {
    const model = onnxProto.onnx.ModelProto.decode(file('fp32'));
    const outputs = model.graph!.output!.map((o) => [
      o.name,
      o.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue)),
    ]);
    expect(outputs).toEqual([
      ['logits', ['N', 7]],
      ['embedding', ['N', 192]],
    ]);
    const meta = Object.fromEntries(model.metadataProps!.map((p) => [p.key, p.value]));
    expect(JSON.parse(meta.labels!)).toEqual(head.labels);
    expect(Number(meta.temperature)).toBe(1.5);
    expect(meta).toMatchObject({ head: 'shoes', base: 'm0', head_format: HEAD_FORMAT, variant: 'm0' });
    // The ImageNet classifier is gone: no [1000, 192] weight remains.
    const dims = model.graph!.initializer!.map((t) => t.dims!.map(Number).join('x'));
    expect(dims).not.toContain('1000x192');
    expect(dims).toContain('7x192');
  });

  it('fp32 on images the build never saw: the base embedding unchanged, logits = W·e + b (float64) within 1e-3', async () => {
    const [base, fp32] = await Promise.all([load(baseFp32), load(file('fp32'))]);
    const b = await base.run(unseen.data, unseen.dims);
    const h = await fp32.run(unseen.data, unseen.dims);
    expect(h.dims).toEqual([4, 7]);
    expect(maxAbsDiff(h.embedding!.data, b.embedding!.data)).toBeLessThan(1e-5);
    const expected = headLogits(head, b.embedding!.data, 4);
    expect(maxAbsDiff(h.data, expected)).toBeLessThanOrEqual(1e-3);
    // The head is not a constant: the images get different logits.
    expect(maxAbsDiff(h.data.subarray(0, 7), h.data.subarray(7, 14))).toBeGreaterThan(0.01);
  });

  it('int8 computes what the service computes: the float head on the int8 base model’s embedding', async () => {
    const [int8Base, int8] = await Promise.all([
      load(await quantizeModel(baseFp32, [], EDGE_RECIPE)),
      load(file('int8')),
    ]);
    const b = await int8Base.run(unseen.data, unseen.dims);
    const h = await int8.run(unseen.data, unseen.dims);
    expect(maxAbsDiff(h.embedding!.data, b.embedding!.data)).toBeLessThan(1e-5);
    expect(maxAbsDiff(h.data, headLogits(head, b.embedding!.data, 4))).toBeLessThanOrEqual(1e-3);
  });
});

describe('exportHeadModels, int8 only', () => {
  it('writes the int8 file alone, still compared with the fp32 model built beside it', async () => {
    const outDir = path.join(dir, 'int8-only');
    const only = await exportHeadModels({
      ...{ baseOnnx, head, outDir, precisions: ['int8'], host: nodeToolchainHost },
      verificationImages: verificationImages.slice(0, 2),
    });
    expect(only.map((b) => b.file)).toEqual(['shoes.int8.onnx']);
    expect(only[0].agreementVsFp32?.images).toBe(2);
    expect(readdirSync(outDir)).toEqual(['shoes.int8.onnx']);
  });
});

describe('exportHeadModels refuses, and writes nothing', () => {
  const attempt = async (headFile: HeadFile, base = baseOnnx) => {
    const outDir = path.join(dir, `refused-${Math.random().toString(36).slice(2)}`);
    const error = await exportHeadModels({
      baseOnnx: base,
      head: headFile,
      outDir,
      precisions: ['fp32', 'int8'],
      host: nodeToolchainHost,
      verificationImages: verificationImages.slice(0, 1),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    let files: string[] = [];
    try {
      files = readdirSync(outDir);
    } catch {}
    return { error: error as HeadExportError, files };
  };

  it('a head whose logits float32 cannot hold to 1e-3 (weights of 1e5): head-mismatch', async () => {
    const { error, files } = await attempt(seededHead({ seed: 5, classes: 3, scale: 1e5 }));
    expect(error).toBeInstanceOf(HeadExportError);
    expect(error.code).toBe('head-mismatch');
    expect(error.message).toMatch(
      /shoes fp32 ONNX disagrees with the float64 head \(max \|Δlogit\| [\d.e+-]+, bar 0\.001\)/,
    );
    expect(error.details.maxAbsLogitDelta).toBeGreaterThan(1e-3);
    expect(files).toEqual([]);
  });

  it('a base file that is not there: invalid-base, naming the build that makes it', async () => {
    const { error } = await attempt(head, path.join(dir, 'missing.fp32.onnx'));
    expect(error.code).toBe('invalid-base');
    expect(error.message).toContain('missing.fp32.onnx not found');
    expect(error.message).toContain('npm run models -- build --variants m0 --precisions fp32,int8');
  });

  it('a head for another base width: invalid-base', async () => {
    const { error, files } = await attempt(seededHead({ seed: 5, classes: 3, dims: 256 }));
    expect([error.code, error.message]).toEqual([
      'invalid-base',
      `${baseOnnx}: embedding width 192, the head expects 256`,
    ]);
    expect(files).toEqual([]);
  });

  it('an int8 base instead of the fp32 one: invalid-base', async () => {
    const int8Path = path.join(dir, 'efficientvit_m0.int8.onnx');
    writeFileSync(int8Path, await quantizeModel(baseFp32, [], EDGE_RECIPE));
    const { error } = await attempt(head, int8Path);
    expect(error.code).toBe('invalid-base');
    expect(error.message).toContain('holds int8 weights: pass the fp32 base model');
  });

  it.each([
    ['a non-finite weight', { weights: head.weights.map((w, i) => (i === 3 ? Number.NaN : w)) }, /finite/],
    ['labels that do not match the classes', { labels: ['a', 'b'] }, /2 labels for 7 classes/],
    ['a zero temperature', { temperature: 0 }, /temperature 0 must be a positive number/],
    ['another format', { format: 'onnx' }, /format "onnx", expected efficientvit-head\/1/],
    ['a name that is a path', { name: '../x' }, /name must be letters/],
  ])('%s: invalid-head', async (_, change, message) => {
    const { error, files } = await attempt({ ...head, ...change } as HeadFile);
    expect(error.code).toBe('invalid-head');
    expect(error.message).toMatch(message);
    expect(files).toEqual([]);
  });
});

describe('exportTrainedHead (the trainer’s step)', () => {
  const saved = process.env[BUILD_DIR_ENV];
  afterAll(() => {
    if (saved === undefined) delete process.env[BUILD_DIR_ENV];
    else process.env[BUILD_DIR_ENV] = saved;
  });

  it('verifies on the training images given, writes beside the head in every folder but the edge’s', async () => {
    const root = path.join(dir, 'build');
    process.env[BUILD_DIR_ENV] = root;
    const [node, edge] = [path.join(root, 'node'), path.join(root, 'edge')];
    const base = {
      ...{ name: 'm0', variant: 'm0', precision: 'int8', file: 'efficientvit_m0.int8.onnx' },
      preprocessing: IMAGENET_PREPROCESSING,
    } as ManifestModel;
    const samples = path.join(sharedDir, 'images/imagenet-sample');
    const images = readdirSync(samples)
      .filter((f) => f.endsWith('.JPEG'))
      .slice(0, 2)
      .map((f) => path.join(samples, f));
    expect(images).toHaveLength(2);
    const outDirs = [node, edge];
    const result = await exportTrainedHead({ head, base, baseDir: dir, outDirs, host: nodeToolchainHost, images });
    expect(result.files).toEqual([path.join(node, 'shoes.fp32.onnx'), path.join(node, 'shoes.int8.onnx')]);
    expect(readdirSync(node).sort()).toEqual(['shoes.fp32.onnx', 'shoes.int8.onnx']);
    expect(() => readdirSync(edge)).toThrow(/ENOENT/);
    expect(result.notes[0]).toMatch(/^shoes\.fp32\.onnx: max \|Δlogit\| vs the float64 head \d\.\de-\d+$/);
    expect(result.notes[1]).toMatch(/^shoes\.int8\.onnx: .*; vs fp32: top-1 \d+%, min cos 0\.9\d+$/);
  });
});
