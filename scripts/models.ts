/**
 * The model toolchain CLI (no Python):
 *   npm run models -- build   [--variants m0,m1] [--precisions fp32,int8,fp16 | --precision fp16] [--checkpoints DIR] [--images DIR] [--out DIR] [--naive] [--json]
 *   npm run models -- convert --checkpoint FILE --variant m0 --out m0.onnx [--int8] [--naive]
 *   npm run models -- verify  [--images DIR] [--out DIR] [--runs N] [--device cpu|cuda] [--json]
 *   npm run models -- train   --images DIR --name NAME [--base m0] [--test DIR] [--val 0.2] [--seed N] [--augment K] [--skip-bad] [--replace] [--checkpoints DIR] [--json]
 * Checkpoints come from --checkpoints / EFFICIENTVIT_CHECKPOINTS, else the official release (downloaded, cached).
 * Real images for verification come from --images / EFFICIENTVIT_IMAGES.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isVariant } from '../models/efficientvit.js';
import { PRECISIONS, type Precision } from '../worker/core/manifest/manifest.js';
import { createOrtNodeBackend } from '../worker/runtimes/node/inference/ort-node.js';
import { createOrtWebBackendForNode } from '../worker/runtimes/node/inference/ort-web-node.js';
import { modelName } from '../models/toolchain/build.js';
import { convertCheckpoint } from '../models/toolchain/convert.js';
import { CHECKPOINTS_ENV } from '../models/toolchain/checkpoint/sources.js';
import { readManifest } from '../models/toolchain/manifest-file.js';
import { preprocessImageFiles, splitCalibrationSet } from '../models/toolchain/quantize/index.js';
import { targetDir } from '../models/toolchain/targets.js';
import { realImages, runBuild, runCli, UsageError, UserError } from './lib/build-cli.js';
import { formatVerifyReport, verifyModels } from '../models/toolchain/verify/index.js';
import { VARIANTS, type Variant } from '../worker/core/manifest/manifest.js';
import { nodeToolchainHost } from './lib/node-host.js';
import { runTrain } from './lib/train-cli.js';

const IMAGES_ENV = 'EFFICIENTVIT_IMAGES';

const OPTIONS = {
  variants: { type: 'string' },
  precisions: { type: 'string', default: 'fp32,int8' },
  precision: { type: 'string' },
  checkpoints: { type: 'string' },
  checkpoint: { type: 'string' },
  variant: { type: 'string' },
  images: { type: 'string' },
  out: { type: 'string' },
  int8: { type: 'boolean', default: false },
  naive: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  runs: { type: 'string', default: '30' },
  device: { type: 'string', default: 'cpu' },
  help: { type: 'boolean', short: 'h', default: false },
  base: { type: 'string', default: 'm0' },
  name: { type: 'string' },
  test: { type: 'string' },
  val: { type: 'string', default: '0.2' },
  seed: { type: 'string', default: '0' },
  augment: { type: 'string', default: '0' },
  'skip-bad': { type: 'boolean', default: false },
  replace: { type: 'boolean', default: false },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

async function main(argv: string[]): Promise<void> {
  const { values: flags, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  const command = positionals[0];
  if (!command) throw new UsageError('no command (build, convert, verify or train)');
  if (command === 'build') return build(flags);
  if (command === 'convert') return convert(flags);
  if (command === 'verify') return verify(flags);
  if (command === 'train') return train(flags);
  throw new UsageError(`unknown command ${JSON.stringify(command)} (build, convert, verify or train)`);
}

const USAGE = `usage:
  npm run models -- build   [--variants m0,m1] [--precisions fp32,int8,fp16 | --precision fp16] [--checkpoints DIR] [--images DIR] [--out DIR] [--naive] [--json]
  npm run models -- convert --checkpoint FILE --variant m0 --out m0.onnx [--int8] [--naive]
  npm run models -- verify  [--images DIR] [--out DIR] [--runs N] [--device cpu|cuda] [--json]
  npm run models -- train   --images DIR --name NAME [--base m0] [--test DIR] [--val 0.2] [--seed N] [--augment K] [--skip-bad] [--replace] [--checkpoints DIR] [--json]
checkpoints: --checkpoints DIR or ${CHECKPOINTS_ENV}=DIR, else downloaded from the official release
real images (verification): --images DIR or ${IMAGES_ENV}=DIR
train: a classifier head on the base model's embeddings; DIR/<label>/<images> (at most 1000 labels, names of at most
  100 UTF-8 bytes, 2+ images per label); --val: validation share (weight decay, temperature), --test DIR: a held-out
  folder measured once, --augment K: K random-resized-crop + flip views per image, --skip-bad: train without files
  that do not decode (listed), --replace: overwrite a head of the same name, --checkpoints: build the base if needed`;

function parseVariants(list: string | undefined, fallback: readonly Variant[]): Variant[] {
  if (!list) return [...fallback];
  const variants = list.split(',').map((v) => v.trim().toLowerCase());
  for (const v of variants)
    if (!isVariant(v)) throw new UsageError(`unknown variant ${v} (known: ${VARIANTS.join(', ')})`);
  return variants as Variant[];
}

function parsePrecisions(list: string): Precision[] {
  const precisions = list.split(',').map((p) => p.trim());
  for (const p of precisions)
    if (!PRECISIONS.includes(p as Precision)) throw new UsageError(`unknown precision ${p} (${PRECISIONS.join(', ')})`);
  return precisions as Precision[];
}

function imageDir(flags: Flags): string | undefined {
  return flags.images ?? process.env[IMAGES_ENV] ?? undefined;
}

async function build(flags: Flags): Promise<void> {
  await runBuild({
    variants: parseVariants(flags.variants, ['m0', 'm1']),
    precisions: parsePrecisions(flags.precision ?? flags.precisions),
    outDir: flags.out ? path.resolve(flags.out) : undefined,
    checkpointsDir: flags.checkpoints ?? process.env[CHECKPOINTS_ENV] ?? undefined,
    imagesDir: imageDir(flags),
    naive: flags.naive,
    json: flags.json,
  });
}

function numberFlag(value: string, flag: string): number {
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) throw new UsageError(`${flag} must be a number`);
  return parsed;
}

async function train(flags: Flags): Promise<void> {
  if (!flags.images || !flags.name) throw new UsageError('train needs --images DIR and --name NAME');
  await runTrain({
    base: flags.base,
    imagesDir: flags.images,
    name: flags.name,
    testDir: flags.test,
    checkpointsDir: flags.checkpoints ?? process.env[CHECKPOINTS_ENV] ?? undefined,
    valFraction: numberFlag(flags.val, '--val'),
    seed: numberFlag(flags.seed, '--seed'),
    augment: numberFlag(flags.augment, '--augment'),
    skipBad: flags['skip-bad'],
    replace: flags.replace,
    json: flags.json,
  });
}

async function convert(flags: Flags): Promise<void> {
  if (!flags.checkpoint || !flags.variant || !flags.out)
    throw new UsageError('convert needs --checkpoint, --variant and --out');
  const [variant] = parseVariants(flags.variant, []);
  // Checked (finite weights, fp32 vs the float64 reference) before anything is written.
  const { onnx } = await convertCheckpoint(new Uint8Array(readFileSync(flags.checkpoint)), {
    host: nodeToolchainHost,
    variant,
    source: flags.checkpoint,
    graph: flags.naive ? 'naive' : 'optimized',
    int8: flags.int8,
  });
  writeFileSync(flags.out, onnx);
  console.log(
    `wrote ${flags.out} (${(onnx.byteLength / 1e6).toFixed(2)} MB, ${variant} ${flags.int8 ? 'int8' : 'fp32'})`,
  );
}

async function verify(flags: Flags): Promise<void> {
  const dir = path.resolve(flags.out ?? targetDir('node'));
  const manifest = await readManifest(dir);
  if (!manifest) throw new UserError(`${dir}/manifest.json not found: run \`npm run models -- build\` first`);
  const images = imageDir(flags);
  if (!images) throw new UsageError(`verify compares models on real images: pass --images DIR or set ${IMAGES_ENV}`);
  // Held-out half only: the same split quantization would calibrate on, so no image is judged that tuned a model.
  const inputs = await preprocessImageFiles(
    splitCalibrationSet(await realImages(images)).heldOut,
    await nodeToolchainHost.imageCodec(),
  );
  if (flags.device !== 'cpu' && flags.device !== 'cuda') throw new UsageError('--device must be cpu or cuda');
  // cpu: the edge's wasm runtime and native onnxruntime; cuda: onnxruntime-node on the GPU (fp16 in fp16 kernels).
  const backends =
    flags.device === 'cuda'
      ? [createOrtNodeBackend({ device: 'cuda' })]
      : [await createOrtWebBackendForNode(), createOrtNodeBackend({ device: 'cpu', threads: 1 })];
  const reports = [];
  for (const candidate of manifest.models.filter((m) => m.precision !== 'fp32')) {
    const reference = manifest.models.find((m) => m.variant === candidate.variant && m.precision === 'fp32');
    if (!reference) {
      console.error(
        `${candidate.name}: no fp32 twin (${modelName(candidate.variant, 'fp32')}) in the manifest; skipped`,
      );
      continue;
    }
    const read = (file: string) => new Uint8Array(readFileSync(path.join(dir, file)));
    const report = await verifyModels({
      candidate: { name: candidate.id, bytes: read(candidate.file) },
      reference: { name: reference.id, bytes: read(reference.file) },
      backends,
      images: inputs,
      latency: { runs: Number(flags.runs) },
    });
    reports.push(report);
    if (!flags.json) console.log(`${formatVerifyReport(report)}\n`);
  }
  if (flags.json) console.log(JSON.stringify(reports, null, 2));
}

if (process.argv[1] === import.meta.filename) {
  void runCli(USAGE, main);
}
