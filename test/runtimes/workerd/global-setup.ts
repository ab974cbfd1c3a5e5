/**
 * Runs in Node before the workerd tests: writes the models the tests serve (never into models/, where a user's
 * real models live) and hands the tests what they need to compute expected results, through vitest's provide/inject.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import {
  referenceEmbeddings,
  writeConformanceModels,
  writeSolidColourImages,
} from '../../service/conformance/models.js';
import { startImageOrigin } from '../../helpers/image-origin.js';
import { trainTestHead } from '../../helpers/trained-head.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
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

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  mkdirSync(testModelsDir, { recursive: true });
  writeAtomically(path.join(repoRoot, '.cache', '.gitignore'), '*\n');
  mkdirSync(generatedImagesDir, { recursive: true });
  await writeSolidColourImages((name, bytes) => writeAtomically(path.join(generatedImagesDir, name), bytes));
  const { tiny, tiny10, goldenBuildErrors } = writeConformanceModels(testModelsDir, (name, bytes) =>
    writeAtomically(path.join(testModelsDir, name), bytes),
  );
  project.provide('goldenBuildErrors', goldenBuildErrors);
  project.provide('referenceEmbeddings', { m0: referenceEmbeddings('m0'), m1: referenceEmbeddings('m1') });
  // A head trained by `models train` on the M0 just written (adds itself to the manifest, as the CLI does).
  project.provide('trainedHead', await trainTestHead(testModelsDir, path.join(repoRoot, '.cache', 'labels')));

  project.provide('tinyModels', [
    { name: 'tiny', classes: tiny.classes, weights: tiny.weights, bias: tiny.bias },
    { name: 'tiny-10', classes: tiny10.classes, weights: tiny10.weights, bias: tiny10.bias },
  ]);

  // A real HTTP server for classify by URL (test/service/conformance/url-cache.cases.ts), reached from inside workerd.
  const imageOrigin = await startImageOrigin();
  project.provide('imageOrigin', imageOrigin.url);
  return () => imageOrigin.close();
}
