/**
 * The model build end to end on the synthetic M0 fixture: files, manifest contents, checks, and the CLI's errors.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_1K } from '../../../models/imagenet-1k.js';
import { IMAGENET_PREPROCESSING, type Manifest } from '../../../worker/core/manifest/manifest.js';
import { buildModels, type BuiltModel } from '../../../models/toolchain/build.js';
import { createOrtNodeBackend } from '../../../worker/runtimes/node/inference/ort-node.js';
import { checkpointsDir, readGolden, repoRoot } from '../../helpers/golden.js';
import { nodeToolchainHost } from '../../../scripts/lib/node-host.js';

const run = promisify(execFile);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('models build (m0 from the synthetic .pth)', () => {
  let out: string;
  let built: BuiltModel[];
  let manifest: Manifest;

  beforeAll(async () => {
    out = mkdtempSync(path.join(tmpdir(), 'models-build-'));
    built = await buildModels({
      host: nodeToolchainHost,
      variants: ['m0'],
      precisions: ['fp32', 'int8'],
      outDir: out,
      checkpointsDir,
    });
    manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('writes one manifest entry per build, describing the file it names', () => {
    expect(manifest.version).toBe(1);
    expect(manifest.models.map((m) => [m.name, m.id, m.precision])).toEqual([
      ['m0', 'efficientvit_m0.int8', 'int8'],
      ['m0-fp32', 'efficientvit_m0.fp32', 'fp32'],
    ]);
    const checkpoint = readFileSync(path.join(checkpointsDir, 'efficientvit_m0.synthetic.pth'));
    for (const model of manifest.models) {
      const file = readFileSync(path.join(out, model.file));
      expect(model.bytes).toBe(file.byteLength);
      expect(model.sha256).toBe(sha256(file));
      expect(model.source).toEqual({
        checkpoint: path.join(checkpointsDir, 'efficientvit_m0.synthetic.pth'),
        sha256: sha256(checkpoint),
        format: 'pth',
      });
      expect(model.preprocessing).toEqual(IMAGENET_PREPROCESSING);
      expect(model.input).toEqual({ name: 'input', shape: ['N', 3, 224, 224], dtype: 'float32' });
      expect(model.output).toEqual({ name: 'logits', shape: ['N', 1000], dtype: 'float32' });
      expect(model.embedding).toEqual({ name: 'embedding', shape: ['N', 192], dtype: 'float32' });
      expect(model.labels).toBe('imagenet-1k');
      expect(model.opset).toBe(17);
      expect(model.graph).toBe('optimized');
      expect(model.verified.onnxruntime).toBe('1.30.0');
    }
    expect(JSON.parse(readFileSync(path.join(out, 'imagenet-1k.labels.json'), 'utf8'))).toEqual(IMAGENET_1K);
  });

  it('int8 is at least 3.5× smaller than fp32', () => {
    const [int8, fp32] = manifest.models;
    expect(fp32.bytes / int8.bytes).toBeGreaterThanOrEqual(3.5);
  });

  it('checked fp32 against the float64 reference and int8 against fp32', () => {
    const fp32 = built.find((b) => b.entry.precision === 'fp32')!;
    const int8 = built.find((b) => b.entry.precision === 'int8')!;
    expect(fp32.check.maxAbsDiffVsReference).toBeLessThan(1e-3);
    expect(int8.check.agreement!.minCosine).toBeGreaterThan(0.98);
    // The embedding is checked like the logits, and int8's embedding cosine vs fp32 is recorded.
    expect(fp32.entry.verified.notes?.embeddingMaxAbsDiffVsReference).toBeLessThan(1e-3);
    expect(int8.check.agreement!.embeddingMinCosine).toBeGreaterThan(0.99);
    expect(int8.entry.verified.notes?.embeddingMinCosineVsFp32).toBe(int8.check.agreement!.embeddingMinCosine);
  });

  it('the built fp32 file reproduces the golden logits', async () => {
    const golden = readGolden('m0');
    const session = await createOrtNodeBackend({ threads: 1 }).load(
      readFileSync(path.join(out, 'efficientvit_m0.fp32.onnx')),
    );
    const { data, dims } = await session.run(golden.input, golden.inputDims);
    expect(dims).toEqual([8, 1000]);
    let maxAbsDiff = 0;
    for (let i = 0; i < data.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(data[i] - golden.logits[i]));
    expect(maxAbsDiff).toBeLessThan(1e-3);
    await session.release();
  });

  it('a rebuild replaces entries and keeps the others', async () => {
    await buildModels({ host: nodeToolchainHost, variants: ['m0'], precisions: ['fp32'], outDir: out, checkpointsDir });
    const again: Manifest = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    expect(again.models.map((m) => m.name)).toEqual(['m0', 'm0-fp32']);
  });
});

describe('models CLI errors', () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts/models.ts'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );

  it('names a checkpoint directory that lacks the variant', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'no-checkpoints-'));
    const result = await cli(['build', '--variants', 'm2', '--checkpoints', empty, '--out', empty]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error: no checkpoint for m2 in ${empty}`);
    rmSync(empty, { recursive: true, force: true });
  });

  it('rejects an unknown variant', async () => {
    const result = await cli(['build', '--variants', 'm9']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('error: unknown variant m9');
  });

  it('refuses a checkpoint of the wrong variant, naming the first tensor that does not fit', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'convert-'));
    const result = await cli([
      'convert',
      '--checkpoint',
      path.join(checkpointsDir, 'efficientvit_m1.synthetic.pth'),
      '--variant',
      'm0',
      '--out',
      path.join(out, 'x.onnx'),
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/patch_embed\.0\.c\.weight/);
    rmSync(out, { recursive: true, force: true });
  });
});
