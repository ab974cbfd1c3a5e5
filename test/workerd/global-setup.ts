/**
 * Runs in Node before the workerd tests: writes the models the tests serve (never into models/, where a user's
 * real models live) and hands the tests what they need to compute expected results, through vitest's provide/inject.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { TestProject } from 'vitest/node';
import { writeConformanceModels } from '../conformance/models.js';
import { startImageOrigin } from '../helpers/image-origin.js';
import { SOLID_COLOURS } from './test-data.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedRoot = path.resolve(repoRoot, '../shared');
/** Both gitignored by the `.gitignore` written into .cache/. */
export const testModelsDir = path.join(repoRoot, '.cache', 'test-models');
/** Served to the tests as FIXTURES `/generated/<name>`. */
export const generatedImagesDir = path.join(repoRoot, '.cache', 'test-images');

/**
 * Other vitest runs in this working tree may be reading these files right now (each run's setup writes them), so
 * every file is replaced atomically and with deterministic content, and nothing is deleted.
 */
function writeAtomically(file: string, bytes: Uint8Array | string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, bytes);
  renameSync(temporary, file);
}

async function writeSolidColourImages(): Promise<void> {
  mkdirSync(generatedImagesDir, { recursive: true });
  for (const { name, rgb, width, height } of SOLID_COLOURS) {
    const image = () =>
      sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
    const write = async (extension: string, encoded: sharp.Sharp) =>
      writeAtomically(path.join(generatedImagesDir, `${name}.${extension}`), await encoded.toBuffer());
    await write('png', image().png());
    await write('webp', image().webp({ lossless: true }));
    await write('gif', image().gif());
    await write('jpg', image().jpeg({ quality: 90 }));
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  mkdirSync(testModelsDir, { recursive: true });
  writeAtomically(path.join(repoRoot, '.cache', '.gitignore'), '*\n');
  await writeSolidColourImages();
  const { tiny, tiny10, goldenBuildErrors } = writeConformanceModels(testModelsDir, (name, bytes) =>
    writeAtomically(path.join(testModelsDir, name), bytes),
  );
  project.provide('goldenBuildErrors', goldenBuildErrors);

  project.provide('tinyModels', [
    { name: 'tiny', classes: tiny.classes, weights: tiny.weights, bias: tiny.bias },
    { name: 'tiny-10', classes: tiny10.classes, weights: tiny10.weights, bias: tiny10.bias },
  ]);

  // A real HTTP server for classify by URL (test/conformance/url-cache.cases.ts), reached from inside workerd.
  const imageOrigin = await startImageOrigin();
  project.provide('imageOrigin', imageOrigin.url);
  return () => imageOrigin.close();
}
