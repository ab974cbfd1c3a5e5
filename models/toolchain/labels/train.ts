/**
 * `npm run models -- train`: a classifier head on a built base model's frozen embeddings, from a folder of labelled
 * images, written beside the base in every build folder that serves it. Nothing is written until everything has been
 * computed, and then each file goes to a temporary name first and is renamed: a failed run leaves no head behind.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { headFileName, HEAD_FORMAT, type HeadFile, type ManifestHead } from '../../../worker/core/manifest/head.js';
import type { InferenceBackend } from '../../../worker/core/inference/backend.js';
import type { Manifest, ManifestModel } from '../../../worker/core/manifest/manifest.js';
import type { ImageCodec } from '../../../worker/core/model-input/image-input.js';
import { exportTrainedHead } from '../export/head.js';
import type { ToolchainHost } from '../host.js';
import { readManifest, upsertHead } from '../manifest-file.js';
import { TrainError } from './errors.js';
import { type BadImage, extractFeatures, type ImageFeatures } from './features.js';
import { fitHead, headProbabilities, type Sample } from './fit.js';
import { checkCounts, type LabelledFile, readImageFolder } from './images.js';
import { argmaxRows, evaluate } from './metrics.js';
import { type HeadReport, reportSummary } from './report.js';
import { PIXEL_SIDE } from './views.js';

const HEAD_NAME = /^[a-z0-9][a-z0-9._-]*$/;

export interface TrainTarget {
  /** 'node', 'edge': for messages. */
  name: string;
  dir: string;
}

export type TrainEvent =
  | { kind: 'stage'; stage: string }
  | { kind: 'images'; set: 'train' | 'test'; done: number; total: number }
  | { kind: 'fit'; done: number; total: number; what: string };

export interface TrainOptions {
  name: string;
  /** The base model's API name (e.g. m0). */
  base: string;
  imagesDir: string;
  /** A held-out folder with the same labels (or some of them), measured once with the final head. */
  testDir?: string;
  valFraction: number;
  seed: number;
  augment: number;
  skipBad: boolean;
  /** Fit the raw-pixel baseline beside the head (default true). */
  baseline?: boolean;
  /** Replace a head of the same name (a model of the same name is never replaced). */
  replace?: boolean;
  /** The build folders, in order of preference for reading the base. */
  targets: readonly TrainTarget[];
  cacheDir: string;
  /** Computes the embeddings (onnxruntime on this machine). */
  backend: InferenceBackend;
  codec: ImageCodec;
  host: ToolchainHost;
  /** Renders the confusion matrix as SVG (the CLI's Vega-Lite); absent: no chart. */
  renderChart?: (report: HeadReport) => Promise<string>;
  onEvent?: (event: TrainEvent) => void;
  clock?: () => number;
}

export interface TrainResult {
  report: HeadReport;
  head: HeadFile;
  /** Folders written to. */
  written: string[];
  /** Folders not written to, and why. */
  skipped: { dir: string; reason: string }[];
  files: string[];
}

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

function formatBad(bad: readonly BadImage[]): string {
  const shown = bad.slice(0, 5).map((b) => `${b.file} (${b.reason})`);
  return `${shown.join('; ')}${bad.length > 5 ? `; and ${bad.length - 5} more` : ''}`;
}

/** The base's manifests: where it is served, and the name checks against every model and head there. */
async function resolveBase(options: TrainOptions) {
  const manifests: { target: TrainTarget; manifest: Manifest }[] = [];
  for (const target of options.targets) {
    const manifest = await readManifest(target.dir);
    if (manifest) manifests.push({ target, manifest });
  }
  for (const { target, manifest } of manifests) {
    if (manifest.models.some((m) => m.name === options.name))
      throw new TrainError('name-taken', `${options.name} is a model in ${target.dir}; choose another --name`);
    if (!options.replace && manifest.heads?.some((h) => h.name === options.name))
      throw new TrainError(
        'name-taken',
        `a head named ${options.name} exists in ${target.dir}; choose another --name or pass --replace`,
      );
  }
  const withBase = manifests.flatMap(({ target, manifest }) => {
    const entry = manifest.models.find((m) => m.name === options.base);
    return entry ? [{ target, entry }] : [];
  });
  if (withBase.length === 0)
    throw new TrainError(
      'base-not-built',
      `base model ${options.base} is not built in ${options.targets.map((t) => t.dir).join(' or ')}: run \`npm run models -- build\` first (or pass --checkpoints DIR)`,
    );
  const source = withBase[0];
  if (!source.entry.embedding)
    throw new TrainError('base-not-built', `base ${options.base} was built without an embedding output; rebuild it`);
  return { source, withBase };
}

export async function trainHead(options: TrainOptions): Promise<TrainResult> {
  const clock = options.clock ?? (() => performance.now());
  const started = clock();
  const emit = options.onEvent ?? (() => undefined);
  if (!HEAD_NAME.test(options.name))
    throw new TrainError('bad-name', `--name ${JSON.stringify(options.name)} must match [a-z0-9][a-z0-9._-]*`);
  const { source, withBase } = await resolveBase(options);
  const base: ManifestModel = source.entry;

  const folder = await readImageFolder(options.imagesDir);
  const labels = folder.labels;
  const test = options.testDir ? await readTestFolder(options.testDir, labels) : undefined;

  emit({ kind: 'stage', stage: `loading ${base.name}` });
  const baseBytes = new Uint8Array(await readFile(path.join(source.target.dir, base.file)));
  if (sha256(baseBytes) !== base.sha256)
    throw new TrainError('base-not-built', `${base.file} does not match its manifest's sha256: rebuild ${base.name}`);
  const session = await options.backend.load(baseBytes);
  const featureOptions = {
    session,
    base,
    codec: options.codec,
    cacheDir: options.cacheDir,
    seed: options.seed,
  };
  let trainFiles: LabelledFile[];
  let trainFeatures: ImageFeatures[];
  let bad: BadImage[];
  let cache;
  let testRun;
  const embedStarted = clock();
  try {
    const run = await extractFeatures(folder.files, {
      ...featureOptions,
      augment: options.augment,
      onProgress: (done, total) => emit({ kind: 'images', set: 'train', done, total }),
    });
    bad = run.bad;
    cache = run.cache;
    if (bad.length > 0 && !options.skipBad)
      throw new TrainError(
        'bad-images',
        `${bad.length} file(s) are not images the service can decode: ${formatBad(bad)} (--skip-bad trains without them)`,
        { details: { bad } },
      );
    const kept = folder.files.flatMap((file, i) => (run.features[i] ? [{ file, features: run.features[i]! }] : []));
    trainFiles = kept.map((k) => k.file);
    trainFeatures = kept.map((k) => k.features);
    checkCounts(labels, trainFiles, 2, options.imagesDir);
    if (test) {
      testRun = await extractFeatures(test.files, {
        ...featureOptions,
        augment: 0,
        onProgress: (done, total) => emit({ kind: 'images', set: 'test', done, total }),
      });
      if (testRun.bad.length > 0 && !options.skipBad)
        throw new TrainError('bad-images', `test images that cannot be decoded: ${formatBad(testRun.bad)}`, {
          details: { bad: testRun.bad },
        });
    }
  } finally {
    await session.release();
  }
  const embedSeconds = (clock() - embedStarted) / 1000;

  const fitStarted = clock();
  const samples: Sample[] = trainFiles.map((file, i) => ({ label: file.label, views: trainFeatures[i].views }));
  const fitOptions = { valFraction: options.valFraction, seed: options.seed };
  const trained = fitHead(samples, labels, {
    ...fitOptions,
    onStep: (done, total, what) => emit({ kind: 'fit', done, total, what }),
  });
  const pixelSamples: Sample[] = trainFiles.map((file, i) => ({ label: file.label, views: [trainFeatures[i].pixels] }));
  let baseline: ReturnType<typeof fitHead> | undefined;
  if (options.baseline !== false) {
    emit({ kind: 'stage', stage: 'raw-pixel baseline' });
    baseline = fitHead(pixelSamples, labels, fitOptions);
  }
  const fitSeconds = (clock() - fitStarted) / 1000;

  let testReport: HeadReport['test'];
  let baselineTest: number | undefined;
  if (test && testRun) {
    const kept = test.files.flatMap((file, i) => (testRun.features[i] ? [{ file, f: testRun.features[i]! }] : []));
    const matrix = (pick: (f: ImageFeatures) => Float32Array) => {
      const width = pick(kept[0].f).length;
      const x = new Float32Array(kept.length * width);
      kept.forEach((k, i) => x.set(pick(k.f), i * width));
      return x;
    };
    const truth = kept.map((k) => k.file.label);
    // With the float32 weights the head file stores and the service computes with.
    const served = {
      ...trained.model,
      weights: Float64Array.from(Float32Array.from(trained.model.weights)),
      bias: Float64Array.from(Float32Array.from(trained.model.bias)),
    };
    const probabilities = headProbabilities(
      served,
      trained.temperature,
      matrix((f) => f.views[0]),
      kept.length,
    );
    const predicted = argmaxRows(probabilities, labels.length);
    testReport = {
      dir: options.testDir!,
      ...evaluate(probabilities, truth, labels),
      skipped: testRun.bad,
      predictions: kept.map((k, i) => ({
        file: path.relative(options.testDir!, k.file.path),
        label: labels[k.file.label],
        predicted: labels[predicted[i]],
        score: probabilities[i * labels.length + predicted[i]],
      })),
    };
    if (baseline) {
      const x = matrix((f) => f.pixels);
      const baselineProbabilities = headProbabilities(baseline.model, baseline.temperature, x, kept.length);
      baselineTest = evaluate(baselineProbabilities, truth, labels).accuracy;
    }
  }

  const head: HeadFile = {
    format: HEAD_FORMAT,
    name: options.name,
    base: base.name,
    dims: trained.model.d,
    classes: labels.length,
    labels,
    // float32 values, as the service computes with them.
    weights: Array.from(Float32Array.from(trained.model.weights)),
    bias: Array.from(Float32Array.from(trained.model.bias)),
    temperature: trained.temperature,
  };
  const perLabel = Object.fromEntries(
    labels.map((label, i) => [label, trainFiles.filter((f) => f.label === i).length]),
  );
  const report: HeadReport = {
    format: 'efficientvit-head-report/1',
    name: options.name,
    base: base.name,
    baseSha256: base.sha256,
    labels,
    settings: { valFraction: options.valFraction, seed: options.seed, augment: options.augment },
    images: { total: trainFiles.length, perLabel, skipped: bad },
    split: trained.split,
    decay: trained.decay,
    grid: trained.grid,
    temperature: trained.temperature,
    validation: { ...trained.validation, eceBeforeTemperature: trained.eceBeforeTemperature },
    ...(testReport ? { test: testReport } : {}),
    ...(baseline
      ? {
          baseline: {
            features: `raw pixels: the eval crop average-pooled to 3×${PIXEL_SIDE}×${PIXEL_SIDE}, softmax regression fitted the same way`,
            decay: baseline.decay,
            validationAccuracy: baseline.validation.accuracy,
            ...(baselineTest !== undefined ? { testAccuracy: baselineTest } : {}),
          },
        }
      : {}),
    cache,
    seconds: { embeddings: embedSeconds, fit: fitSeconds, total: (clock() - started) / 1000 },
  };

  const written = await writeHead(options, { head, report, withBase });
  const exported = await exportTrainedHead({
    head,
    base,
    baseDir: source.target.dir,
    outDirs: written.written,
    host: options.host,
    images: trainFiles.slice(0, 8).map((f) => f.path),
  });
  return { report, head, ...written, files: [...written.files, ...(exported?.files ?? [])] };
}

async function readTestFolder(dir: string, labels: readonly string[]) {
  const test = await readImageFolder(dir, { minPerLabel: 1 });
  const unknown = test.labels.filter((label) => !labels.includes(label));
  if (unknown.length > 0)
    throw new TrainError('unknown-test-label', `${dir}: labels the training folder lacks: ${unknown.join(', ')}`);
  return {
    labels: test.labels,
    files: test.files.map((f) => ({ ...f, label: labels.indexOf(test.labels[f.label]) })),
  };
}

/** Every file to a temporary name first, then renamed, then the manifest entry: all or nothing per folder. */
async function writeHead(
  options: TrainOptions,
  run: { head: HeadFile; report: HeadReport; withBase: { target: TrainTarget; entry: ManifestModel }[] },
): Promise<{ written: string[]; skipped: { dir: string; reason: string }[]; files: string[] }> {
  const { head, report } = run;
  const name = options.name;
  const headJson = `${JSON.stringify(head)}\n`;
  const contents: Record<string, string> = {
    [headFileName(name)]: headJson,
    [`${name}.labels.json`]: `${JSON.stringify(head.labels.map((label) => ({ label })))}\n`,
    [`${name}.report.json`]: `${JSON.stringify(report, null, 2)}\n`,
    [`${name}.report.txt`]: `${reportSummary(report)}\n`,
  };
  if (options.renderChart) contents[`${name}.confusion.svg`] = await options.renderChart(report);
  const accuracy = report.test?.accuracy ?? report.validation.accuracy;
  const top5 = report.test ? report.test.top5 : report.validation.top5;
  const entry: ManifestHead = {
    name,
    base: head.base,
    file: headFileName(name),
    bytes: new TextEncoder().encode(headJson).byteLength,
    sha256: sha256(headJson),
    labels: name,
    classes: head.classes,
    dims: head.dims,
    baseSha256: report.baseSha256,
    report: {
      file: `${name}.report.json`,
      heldOutAccuracy: accuracy,
      ...(top5 !== undefined ? { top5 } : {}),
      ece: report.test?.ece ?? report.validation.ece,
      images: report.images.total,
      labels: head.classes,
    },
  };
  const written: string[] = [];
  const skipped: { dir: string; reason: string }[] = [];
  const files: string[] = [];
  for (const { target, entry: baseEntry } of run.withBase) {
    // The head was fitted on this file's embeddings: a folder whose base is another build would serve other numbers.
    if (baseEntry.sha256 !== report.baseSha256) {
      skipped.push({ dir: target.dir, reason: `its ${baseEntry.name} is a different build (sha256)` });
      continue;
    }
    const temporary = Object.keys(contents).map((file) => path.join(target.dir, `.${file}.${process.pid}.tmp`));
    try {
      for (const [i, [, text]] of Object.entries(contents).entries()) await writeFile(temporary[i], text);
      for (const [i, file] of Object.keys(contents).entries()) {
        await rename(temporary[i], path.join(target.dir, file));
        files.push(path.join(target.dir, file));
      }
    } catch (error) {
      await Promise.all(temporary.map((file) => rm(file, { force: true })));
      throw error;
    }
    await upsertHead(target.dir, entry);
    written.push(target.dir);
  }
  return { written, skipped, files };
}
