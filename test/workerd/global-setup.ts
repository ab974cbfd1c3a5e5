/**
 * Runs in Node before the workerd tests: writes the models the tests serve (never into models/, where a user's
 * real models live) and hands the tests what they need to compute expected results, through vitest's provide/inject.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { TestProject } from 'vitest/node';
import type { Variant } from '../../models/efficientvit.js';
import type { Manifest, ManifestModel } from '../../models/manifest.js';
import { readCheckpoint } from '../../models/toolchain/checkpoint/index.js';
import { exportOnnx } from '../../models/toolchain/export/index.js';
import { testManifestEntry } from '../helpers/manifest-entry.js';
import { buildTinyClassifier } from '../helpers/tiny-model.js';
import { GOLDEN_VARIANTS, SOLID_COLOURS } from './test-data.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedRoot = path.resolve(repoRoot, '../shared');
/** Both gitignored by the `.gitignore` written into .cache/. */
export const testModelsDir = path.join(repoRoot, '.cache', 'test-models');
/** Served to the tests as FIXTURES `/generated/<name>`. */
export const generatedImagesDir = path.join(repoRoot, '.cache', 'test-images');

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Other vitest runs in this working tree may be reading these files right now (each run's setup writes them), so
 * every file is replaced atomically and with deterministic content, and nothing is deleted.
 */
function writeAtomically(file: string, bytes: Uint8Array | string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, bytes);
  renameSync(temporary, file);
}

function imagenetLabels(): { synset: string; label: string }[] {
  const rows = readFileSync(path.join(sharedRoot, 'labels', 'imagenet1k.tsv'), 'utf8').trim().split('\n').slice(1);
  return rows.map((row) => {
    const [, synset, label] = row.split('\t');
    return { synset, label };
  });
}

async function writeSolidColourImages(): Promise<void> {
  mkdirSync(generatedImagesDir, { recursive: true });
  for (const { name, rgb, width, height } of SOLID_COLOURS) {
    const image = () => sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
    const write = async (extension: string, encoded: sharp.Sharp) =>
      writeAtomically(path.join(generatedImagesDir, `${name}.${extension}`), await encoded.toBuffer());
    await write('png', image().png());
    await write('webp', image().webp({ lossless: true }));
    await write('gif', image().gif());
    await write('jpg', image().jpeg({ quality: 90 }));
  }
}

function goldenModel(variant: Variant): { entry: ManifestModel; onnx: Uint8Array } {
  const checkpointPath = path.join(sharedRoot, 'fixtures', 'checkpoints', `efficientvit_${variant}.synthetic.pth`);
  const checkpointBytes = readFileSync(checkpointPath);
  const onnx = exportOnnx(readCheckpoint(checkpointBytes, checkpointPath).stateDict, variant, { graph: 'optimized' });
  const file = `efficientvit_${variant}.fp32.onnx`;
  const entry = testManifestEntry(
    {
      name: `${variant}-fp32`,
      id: `efficientvit_${variant}.fp32`,
      variant,
      file,
      bytes: onnx.length,
      sha256: sha256(onnx),
      source: { checkpoint: path.relative(repoRoot, checkpointPath), sha256: sha256(checkpointBytes), format: 'pth' },
      graph: 'optimized',
    },
    1000,
  );
  return { entry, onnx };
}

export default async function setup(project: TestProject): Promise<void> {
  mkdirSync(testModelsDir, { recursive: true });
  writeAtomically(path.join(repoRoot, '.cache', '.gitignore'), '*\n');
  await writeSolidColourImages();
  const write = (name: string, bytes: Uint8Array | string) => writeAtomically(path.join(testModelsDir, name), bytes);

  const tiny = buildTinyClassifier({ classes: 1000, seed: 1 });
  const tiny10 = buildTinyClassifier({ classes: 10, seed: 2 });
  const corrupt = new TextEncoder().encode('this is not an ONNX model');
  write('tiny.onnx', tiny.onnx);
  write('tiny-10.onnx', tiny10.onnx);
  write('corrupt.onnx', corrupt);
  write('imagenet-1k.labels.json', JSON.stringify(imagenetLabels()));
  write('ten.labels.json', JSON.stringify(Array.from({ length: 10 }, (_, i) => ({ synset: `s${i}`, label: `class ${i}` }))));

  const models: ManifestModel[] = [
    testManifestEntry({ name: 'tiny', id: 'tiny_classifier.fp32', file: 'tiny.onnx', bytes: tiny.onnx.length, sha256: sha256(tiny.onnx) }, 1000),
    testManifestEntry(
      { name: 'tiny-10', id: 'tiny_classifier_10.fp32', file: 'tiny-10.onnx', bytes: tiny10.onnx.length, sha256: sha256(tiny10.onnx), labels: 'ten' },
      10,
    ),
    // Broken on purpose: each must answer 503 model-unavailable and leave the isolate serving.
    testManifestEntry({ name: 'tiny-missing', id: 'tiny_missing.fp32', file: 'missing.onnx', bytes: 1, sha256: '0'.repeat(64) }, 1000),
    testManifestEntry({ name: 'tiny-corrupt', id: 'tiny_corrupt.fp32', file: 'corrupt.onnx', bytes: corrupt.length, sha256: sha256(corrupt) }, 1000),
    testManifestEntry({ name: 'tiny-tampered', id: 'tiny_tampered.fp32', file: 'tiny.onnx', bytes: tiny.onnx.length, sha256: 'f'.repeat(64) }, 1000),
  ];
  // A broken exporter or checkpoint reader must fail the golden tests, not every workerd test.
  const goldenBuildErrors: Record<string, string | undefined> = {};
  for (const variant of GOLDEN_VARIANTS) {
    try {
      const { entry, onnx } = goldenModel(variant);
      write(entry.file, onnx);
      models.push(entry);
      goldenBuildErrors[variant] = undefined;
    } catch (error) {
      goldenBuildErrors[variant] = error instanceof Error ? (error.stack ?? error.message) : String(error);
    }
  }
  project.provide('goldenBuildErrors', goldenBuildErrors);

  const manifest: Manifest = { version: 1, generated: 'test/workerd/global-setup.ts', models };
  write('manifest.json', JSON.stringify(manifest, null, 2));

  project.provide('tinyModels', [
    { name: 'tiny', classes: tiny.classes, weights: tiny.weights, bias: tiny.bias },
    { name: 'tiny-10', classes: tiny10.classes, weights: tiny10.weights, bias: tiny10.bias },
  ]);
}
