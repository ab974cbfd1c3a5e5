/**
 * Where built models go: one git-ignored folder per deploy target, each with its own manifest. The edge's folder
 * is its Static Assets directory, so it holds only what the edge serves (Cloudflare refuses any asset over
 * 25 MiB, and M3-M5 fp32 are larger); the Node build reads its own folder with every variant built.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PRECISIONS, type ManifestModel, type Precision } from '../../worker/core/manifest/manifest.js';
import { upsertManifest } from './manifest-file.js';
import { VARIANTS, type Variant } from '../../worker/core/manifest/manifest.js';

export type Target = 'edge' | 'node';

/** Overrides the build root (tests build elsewhere than the user's models/build). */
export const BUILD_DIR_ENV = 'EFFICIENTVIT_BUILD_DIR';

const DEFAULT_BUILD_ROOT = path.resolve(import.meta.dirname, '../build');

export const TARGET_VARIANTS: Readonly<Record<Target, readonly Variant[]>> = Object.freeze({
  edge: ['m0', 'm1'],
  node: VARIANTS,
});

/** fp16 is for GPU hosts: onnxruntime-web's wasm backend has no fp16 kernels, so the edge never gets it. */
export const TARGET_PRECISIONS: Readonly<Record<Target, readonly Precision[]>> = Object.freeze({
  edge: ['fp32', 'int8'],
  node: PRECISIONS,
});

/** Cloudflare Static Assets' per-file limit. */
export const EDGE_ASSET_LIMIT_BYTES = 25 * 1024 * 1024;

export function buildRoot(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env[BUILD_DIR_ENV] || DEFAULT_BUILD_ROOT);
}

export function targetDir(target: Target, env: NodeJS.ProcessEnv = process.env): string {
  return path.join(buildRoot(env), target);
}

/** Downloaded checkpoints, shared by every target's build. */
export function checkpointCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(buildRoot(env), '.cache', 'checkpoints');
}

/**
 * Copies the models that `target` serves from the folder they were built in (the Node target's, which gets every
 * variant) into the target's folder and manifest. Returns the entries published.
 */
export async function publishToTarget(
  target: Target,
  builtIn: string,
  entries: readonly ManifestModel[],
  env = process.env,
): Promise<ManifestModel[]> {
  const served = entries.filter(
    (entry) => TARGET_VARIANTS[target].includes(entry.variant) && TARGET_PRECISIONS[target].includes(entry.precision),
  );
  const dir = targetDir(target, env);
  if (served.length === 0 || path.resolve(dir) === path.resolve(builtIn)) return served;
  await mkdir(dir, { recursive: true });
  const labelFiles = new Set(served.map((entry) => `${entry.labels}.labels.json`));
  for (const file of [...labelFiles, ...served.map((entry) => entry.file)]) {
    await copyFile(path.join(builtIn, file), path.join(dir, file));
  }
  await upsertManifest(dir, [...served]);
  return served;
}
