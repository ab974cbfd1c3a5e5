/** What every bench:edge scenario runs against: the images, the edge models (built when missing), the worker's name. */
import { readFileSync } from 'node:fs';
import type { MiniflareOptions } from 'miniflare';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Manifest, ManifestModel, Precision, Variant } from '../../../worker/core/manifest/manifest.js';
import { buildModels, modelName } from '../../../models/toolchain/build.js';
import { readManifest } from '../../../models/toolchain/manifest-file.js';
import { nodeToolchainHost } from '../../lib/node-host.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** The name Miniflare gives the worker, which the isolate memory probe looks for. */
export const WORKER_NAME = 'bench-edge';
export const MiB = 2 ** 20;

export const IMAGES = {
  imagenet: { file: 'images/imagenet-val/ILSVRC2012_val_00000010.jpeg', label: 'ImageNet 500×375' },
  cups: { file: 'images/photos/colorful-cups-2560x1600.jpg', label: 'photo 2560×1600' },
  phone: { file: 'images/photos/phone-4032x3024-exif6.jpg', label: 'phone 12 MP' },
} as const;
export type ImageKey = keyof typeof IMAGES;

/** What a scenario runs against: the bundled worker, and the image it sends. */
export interface Target {
  worker: MiniflareOptions;
  image: ImageKey;
  bytes: Uint8Array;
}

export const imageBytes = (image: ImageKey): Uint8Array =>
  new Uint8Array(readFileSync(path.resolve(REPO_ROOT, '../shared', IMAGES[image].file)));

export const EDGE_MODELS: readonly { variant: Variant; precision: Precision }[] = [
  { variant: 'm0', precision: 'int8' },
  { variant: 'm1', precision: 'int8' },
  { variant: 'm0', precision: 'fp32' },
  { variant: 'm1', precision: 'fp32' },
];
export const EDGE_MODEL_NAMES = EDGE_MODELS.map((m) => modelName(m.variant, m.precision));

/** The manifest entries for `names`, first building whichever edge models the manifest lacks (both precisions). */
export async function ensureModels(
  modelsDir: string,
  names: readonly string[],
  checkpointsDir: string | undefined,
  log: (message: string) => void,
): Promise<ManifestModel[]> {
  const have = new Set((await readManifest(modelsDir))?.models.map((e) => e.name));
  const wanted = EDGE_MODELS.filter((m) => names.includes(modelName(m.variant, m.precision)));
  const missing = [
    ...new Set(wanted.filter((m) => !have.has(modelName(m.variant, m.precision))).map((m) => m.variant)),
  ];
  if (missing.length > 0) {
    log(`building ${missing.join(', ')} (fp32 + int8) into ${path.relative(process.cwd(), modelsDir) || '.'}/`);
    await buildModels({
      host: nodeToolchainHost,
      variants: missing,
      precisions: ['fp32', 'int8'],
      outDir: modelsDir,
      checkpointsDir,
      onEvent: (event) => {
        if (event.kind === 'stage') log(`[${event.variant}] ${event.stage}`);
      },
    });
  }
  const manifest: Manifest | undefined = await readManifest(modelsDir);
  return names.map((name) => {
    const entry = manifest?.models.find((m) => m.name === name);
    if (!entry) throw new Error(`${name} is not in ${modelsDir}/manifest.json after the build`);
    return entry;
  });
}
