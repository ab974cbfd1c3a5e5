/**
 * `models train` on real files: each bad input gets its own refusal and leaves the build folders as they were; a
 * good run writes the head, its labels, its report and the manifest entry into every folder that has the base.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModels } from '../../../../models/toolchain/build.js';
import { type TrainOptions, trainHead } from '../../../../models/toolchain/labels/train.js';
import { readManifest } from '../../../../models/toolchain/manifest-file.js';
import { checkHeadFile } from '../../../../worker/core/manifest/check.js';
import { createOrtNodeBackend } from '../../../../worker/runtimes/node/inference/ort-node.js';
import { nodeToolchainHost } from '../../../../scripts/lib/node-host.js';
import { checkpointsDir, sharedDir } from '../../../helpers/golden.js';

const FASHION_TRAIN = path.join(sharedDir, 'images/fashion-mnist/train');

let root: string;
let build: string;
let other: string;
let base: TrainOptions;

/** A folder of labels, each with `count` Fashion-MNIST images copied from the label of the same name. */
function imageFolder(name: string, labels: Record<string, number>): string {
  const dir = path.join(root, name);
  for (const [label, count] of Object.entries(labels)) {
    mkdirSync(path.join(dir, label), { recursive: true });
    const source = path.join(FASHION_TRAIN, label);
    for (const file of readdirSync(source).sort().slice(0, count))
      copyFileSync(path.join(source, file), path.join(dir, label, file));
  }
  return dir;
}

const filesOf = (dir: string) => readdirSync(dir).sort();

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'train-'));
  build = path.join(root, 'build');
  other = path.join(root, 'empty-build');
  mkdirSync(other);
  await buildModels({ host: nodeToolchainHost, variants: ['m0'], precisions: ['fp32'], outDir: build, checkpointsDir });
  base = {
    name: 'clothes',
    base: 'm0-fp32',
    imagesDir: imageFolder('good', { bag: 4, sandal: 4, trouser: 4 }),
    valFraction: 0.25,
    seed: 1,
    augment: 0,
    skipBad: false,
    targets: [{ name: 'node', dir: build }],
    cacheDir: path.join(root, 'cache'),
    backend: createOrtNodeBackend({ device: 'cpu', threads: 1 }),
    codec: await nodeToolchainHost.imageCodec(),
    host: nodeToolchainHost,
  };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The refusal's code and message; the build folder unchanged. */
async function refusal(options: Partial<TrainOptions>): Promise<{ code: string; message: string }> {
  const before = filesOf(build);
  const manifestBefore = readFileSync(path.join(build, 'manifest.json'), 'utf8');
  const error = await trainHead({ ...base, ...options }).then(
    () => undefined,
    (e: unknown) => e as { code: string; message: string },
  );
  expect(error, 'expected a refusal').toBeDefined();
  expect(filesOf(build)).toEqual(before);
  expect(readFileSync(path.join(build, 'manifest.json'), 'utf8')).toBe(manifestBefore);
  return error!;
}

describe('models train refuses bad input, leaving nothing behind', () => {
  it('a missing or empty folder', async () => {
    expect((await refusal({ imagesDir: path.join(root, 'nowhere') })).code).toBe('no-images');
    mkdirSync(path.join(root, 'empty'));
    const empty = await refusal({ imagesDir: path.join(root, 'empty') });
    expect(empty).toMatchObject({ code: 'no-images', message: expect.stringMatching(/no label folders/) });
  });

  it('a single label', async () => {
    const error = await refusal({ imagesDir: imageFolder('one-label', { bag: 3 }) });
    expect(error).toMatchObject({ code: 'too-few-labels', message: expect.stringMatching(/only one label \(bag\)/) });
  });

  it('a label with one image', async () => {
    const error = await refusal({ imagesDir: imageFolder('one-image', { bag: 3, sandal: 1 }) });
    expect(error).toMatchObject({ code: 'too-few-images', message: expect.stringMatching(/too few: sandal \(1\)/) });
  });

  it('label names that are not UTF-8, too long, or too many labels', async () => {
    const notUtf8 = imageFolder('not-utf8', { bag: 2 });
    mkdirSync(Buffer.concat([Buffer.from(`${notUtf8}/`), Buffer.from([0x73, 0xff, 0x6f])]));
    expect((await refusal({ imagesDir: notUtf8 })).code).toBe('bad-label-name');

    const long = imageFolder('long', { bag: 2 });
    mkdirSync(path.join(long, 'x'.repeat(101)));
    expect(await refusal({ imagesDir: long })).toMatchObject({
      code: 'bad-label-name',
      message: expect.stringMatching(/longer than 100 bytes/),
    });

    const many = path.join(root, 'many');
    for (let i = 0; i <= 1000; i++) mkdirSync(path.join(many, `label-${i}`), { recursive: true });
    expect(await refusal({ imagesDir: many })).toMatchObject({
      code: 'too-many-labels',
      message: expect.stringMatching(/1001 labels; at most 1000/),
    });
  });

  it('files that are not images: listed, and a failure unless skipped', async () => {
    const dir = imageFolder('with-bad', { bag: 3, sandal: 3 });
    writeFileSync(path.join(dir, 'bag', 'notes.txt'), 'not an image');
    writeFileSync(path.join(dir, 'sandal', 'empty.png'), '');
    const error = await refusal({ imagesDir: dir, name: 'with-bad' });
    expect(error.code).toBe('bad-images');
    expect(error.message).toMatch(/2 file\(s\).*notes\.txt.*empty\.png.*--skip-bad/);

    const skipped = await trainHead({ ...base, imagesDir: dir, name: 'with-bad', skipBad: true });
    expect(skipped.report.images.skipped.map((b) => path.basename(b.file))).toEqual(['notes.txt', 'empty.png']);
    expect(skipped.report.images.total).toBe(6);
    expect(readFileSync(path.join(build, 'with-bad.report.txt'), 'utf8')).toMatch(/skipped 2 bad file/);
  });

  it('a name taken by a model or a head, or not a model name', async () => {
    expect(await refusal({ name: 'm0-fp32' })).toMatchObject({ code: 'name-taken' });
    expect(await refusal({ name: 'Bad Name' })).toMatchObject({ code: 'bad-name' });
    await trainHead({ ...base, name: 'taken' });
    expect(await refusal({ name: 'taken' })).toMatchObject({
      code: 'name-taken',
      message: expect.stringMatching(/--replace/),
    });
    await expect(trainHead({ ...base, name: 'taken', replace: true })).resolves.toBeDefined();
  });

  it('a base that is not built', async () => {
    expect(await refusal({ targets: [{ name: 'node', dir: other }] })).toMatchObject({
      code: 'base-not-built',
      message: expect.stringMatching(/npm run models -- build/),
    });
    expect(await refusal({ base: 'm3' })).toMatchObject({ code: 'base-not-built' });
  });
});

describe('models train writes a head the service can check', () => {
  it('head, labels, report and the manifest entry; a second run reads every embedding from the cache', async () => {
    const first = await trainHead({ ...base, name: 'good', augment: 2 });
    expect(first.report.cache).toEqual({ hits: 0, misses: 12 });
    expect(first.report.split).toEqual({ trainImages: 9, valImages: 3, trainViews: 27 });
    const manifest = (await readManifest(build))!;
    const entry = manifest.heads!.find((h) => h.name === 'good')!;
    expect(entry).toMatchObject({ base: 'm0-fp32', classes: 3, dims: 192, labels: 'good', file: 'good.head.json' });
    expect(entry.baseSha256).toBe(manifest.models.find((m) => m.name === 'm0-fp32')!.sha256);
    const head = checkHeadFile(JSON.parse(readFileSync(path.join(build, entry.file), 'utf8')), entry);
    expect(head.labels).toEqual(['bag', 'sandal', 'trouser']);
    expect(JSON.parse(readFileSync(path.join(build, 'good.labels.json'), 'utf8'))).toEqual([
      { label: 'bag' },
      { label: 'sandal' },
      { label: 'trouser' },
    ]);
    expect(entry.report!.heldOutAccuracy).toBe(first.report.validation.accuracy);
    expect(filesOf(build).filter((f) => f.includes('.tmp'))).toEqual([]);

    const second = await trainHead({ ...base, name: 'good', augment: 2, replace: true });
    expect(second.report.cache).toEqual({ hits: 12, misses: 0 });
    expect(second.head).toEqual(first.head);
  });
});
