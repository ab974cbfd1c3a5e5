/**
 * What the CLIs share: usage errors, the one-line error print, and a model build with progress (used by
 * `npm run models -- build` and `npm start`).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { Variant } from '../models/efficientvit.js';
import type { Precision } from '../models/manifest.js';
import { buildModels, type BuildEvent } from '../models/toolchain/build.js';
import { preprocessImageFiles, splitCalibrationSet } from '../models/toolchain/quantize/index.js';
import { formatTable } from '../models/toolchain/table.js';
import { UsageError } from '../worker/node/cli.js';
import { formatCliError } from './cli-error.js';
import { checkpointCacheDir, publishToTarget, targetDir } from '../models/toolchain/targets.js';

/** A mistake in how a command was called: one class for every CLI, the Node server's included. */
export { UsageError };

const IMAGE_FILE = /\.(jpe?g|png|webp|gif)$/i;

/** Prints a failure as scripts/cli-error.ts formats it (one `error:` line for the user's mistakes) and returns 1. */
export function printCliError(error: unknown): number {
  console.error(formatCliError(error, [UsageError]));
  return 1;
}

export async function realImages(dir: string): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => IMAGE_FILE.test(f)).sort();
  if (files.length === 0) throw new UsageError(`${dir}: no images (.jpg, .png, .webp, .gif)`);
  return files.map((f) => path.join(dir, f));
}

export interface BuildCliOptions {
  variants: readonly Variant[];
  precisions: readonly Precision[];
  /** One folder for everything built; default: the Node target's folder, then publish to the edge's (targets.ts). */
  outDir?: string;
  checkpointsDir?: string;
  imagesDir?: string;
  naive?: boolean;
  json?: boolean;
}

/** Shared by `models build` and `npm start`: progress to stderr, the summary table (or JSON) to stdout. */
export async function runBuild(options: BuildCliOptions): Promise<void> {
  const verificationImages = options.imagesDir
    ? await preprocessImageFiles(splitCalibrationSet(await realImages(options.imagesDir)).heldOut.slice(0, 4))
    : undefined;
  let lastDownloadLog = 0;
  const onEvent = (event: BuildEvent) => {
    if (event.kind === 'stage') return void process.stderr.write(`[${event.variant}] ${event.stage}\n`);
    const now = Date.now();
    if (now - lastDownloadLog < 500 && event.received !== event.total) return;
    lastDownloadLog = now;
    const share = event.total ? ` (${((100 * event.received) / event.total).toFixed(0)}%)` : '';
    process.stderr.write(`[${event.variant}] downloading ${(event.received / 1e6).toFixed(1)} MB${share}\n`);
  };
  const outDir = options.outDir ?? targetDir('node');
  const built = await buildModels({
    variants: options.variants,
    precisions: options.precisions,
    outDir,
    cacheDir: options.outDir ? undefined : checkpointCacheDir(),
    checkpointsDir: options.checkpointsDir,
    verificationImages,
    graph: options.naive ? 'naive' : 'optimized',
    onEvent,
  });
  const written = [outDir];
  if (!options.outDir) {
    const published = await publishToTarget(
      'edge',
      outDir,
      built.map((b) => b.entry),
    );
    if (published.length > 0) written.push(targetDir('edge'));
  }
  if (options.json) return console.log(JSON.stringify(built, null, 2));
  console.log(
    formatTable(
      built.map(({ entry, check }) => ({
        model: entry.name,
        id: entry.id,
        MB: Number((entry.bytes / 1e6).toFixed(2)),
        check:
          check.maxAbsDiffVsReference !== undefined
            ? `max |Δlogit| vs float64 reference ${check.maxAbsDiffVsReference.toExponential(1)}`
            : entry.precision === 'fp16'
              ? `vs fp32: top-1 ${(check.agreement!.top1Agreement * 100).toFixed(0)}%, top-5 overlap ${(check.agreement!.top5Overlap * 100).toFixed(0)}%, max |Δlogit| ${check.agreement!.maxAbsDiff.toExponential(1)}`
              : `vs fp32: top-1 ${(check.agreement!.top1Agreement * 100).toFixed(0)}%, min cos ${check.agreement!.minCosine.toFixed(4)}`,
        source: entry.source.checkpoint,
      })),
    ),
  );
  console.log(
    `\nwrote ${written.map((dir) => path.join(path.relative(process.cwd(), dir), 'manifest.json')).join(', ')}${verificationImages ? '' : ' (checked on synthetic inputs; pass --images DIR for real ones)'}`,
  );
}
