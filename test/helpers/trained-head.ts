/**
 * A head trained by the real trainer on ../shared/images/fashion-mnist/train, on the conformance M0 (fp32) of a model
 * folder the tests serve, measured on test/ (held out): what the served answers must equal. The embeddings are
 * cached under .cache/, so only the first run computes them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { type TrainResult, trainHead } from '../../models/toolchain/labels/train.js';
import { upsertHead } from '../../models/toolchain/manifest-file.js';
import { createOrtNodeBackend } from '../../worker/runtimes/node/inference/ort-node.js';
import { nodeToolchainHost } from '../../scripts/lib/node-host.js';
import type { HeadFile } from '../../worker/core/manifest/head.js';
import { readManifest } from '../../models/toolchain/manifest-file.js';

export const FASHION = path.resolve(import.meta.dirname, '../../../shared/images/fashion-mnist');

/** The trainer's own answers for the held-out images, for the serving tests. */
export interface TrainedHeadInfo {
  name: string;
  base: string;
  /** A second head: the same weights with a shifted bias, so its own sha256 (the cache key must tell them apart). */
  shifted: string;
  heldOutAccuracy: number;
  predictions: { file: string; label: string; predicted: string; score: number }[];
}

export async function trainTestHead(dir: string, cacheDir: string, base = 'm0-fp32'): Promise<TrainedHeadInfo> {
  const result: TrainResult = await trainHead({
    name: 'fashion',
    base,
    imagesDir: path.join(FASHION, 'train'),
    testDir: path.join(FASHION, 'test'),
    valFraction: 0.2,
    seed: 0,
    augment: 0,
    skipBad: false,
    replace: true,
    baseline: false,
    targets: [{ name: 'test', dir }],
    cacheDir,
    backend: createOrtNodeBackend({ device: 'cpu' }),
    codec: await nodeToolchainHost.imageCodec(),
    host: nodeToolchainHost,
  });
  const shifted: HeadFile = { ...result.head, name: 'fashion-shifted', bias: result.head.bias.map((b, i) => b + i) };
  const text = `${JSON.stringify(shifted)}\n`;
  writeFileSync(path.join(dir, 'fashion-shifted.head.json'), text);
  const entry = (await readManifest(dir))!.heads!.find((h) => h.name === 'fashion')!;
  await upsertHead(dir, {
    ...entry,
    name: 'fashion-shifted',
    file: 'fashion-shifted.head.json',
    bytes: Buffer.byteLength(text),
    sha256: createHash('sha256').update(text).digest('hex'),
    report: undefined,
  });
  return {
    name: 'fashion',
    base,
    shifted: 'fashion-shifted',
    heldOutAccuracy: result.report.test!.accuracy,
    predictions: result.report.test!.predictions,
  };
}

/** The held-out image's bytes (`label/file.png`). */
export const fashionTestImage = (file: string) => new Uint8Array(readFileSync(path.join(FASHION, 'test', file)));
