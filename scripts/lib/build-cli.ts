/**
 * What the CLIs share: usage errors, the one-line error print, and a model build with progress (used by
 * `npm run models -- build` and `npm start`).
 */
import { readdir } from 'node:fs/promises';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import path from 'node:path';
import type { Precision } from '../../worker/core/manifest/manifest.js';
import { buildModels, type BuildEvent } from '../../models/toolchain/build.js';
import { preprocessImageFiles, splitCalibrationSet } from '../../models/toolchain/quantize/index.js';
import { formatTable } from '../../models/toolchain/table.js';
import { formatCliError, runCli, UsageError, UserError } from './cli.js';
import { checkpointCacheDir, publishToTarget, targetDir } from '../../models/toolchain/targets.js';
import type { Variant } from '../../worker/core/manifest/manifest.js';
import { nodeToolchainHost } from './node-host.js';

/** The one mechanism for help, exit codes and error lines: scripts/lib/cli.ts (the Node server uses it too). */
export { runCli, UsageError, UserError };

const IMAGE_FILE = /\.(jpe?g|png|webp|gif)$/i;

/** Prints a failure as scripts/lib/cli.ts formats it (one `error:` line for the user's mistakes) and returns 1. */
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
  /** Where the summary goes (default stdout; `models train` sends its base build's to stderr). */
  print?: (text: string) => void;
}

/** Shared by `models build` and `npm start`: progress to stderr, the summary table (or JSON) to stdout. */
export async function runBuild(options: BuildCliOptions): Promise<void> {
  const verificationImages = options.imagesDir
    ? await preprocessImageFiles(
        splitCalibrationSet(await realImages(options.imagesDir)).heldOut.slice(0, 4),
        await nodeToolchainHost.imageCodec(),
      )
    : undefined;
  const outDir = options.outDir ?? targetDir('node');
  const progress = buildProgress(options.variants);
  let built;
  try {
    built = await buildModels({
      host: nodeToolchainHost,
      variants: options.variants,
      precisions: options.precisions,
      outDir,
      cacheDir: options.outDir ? undefined : checkpointCacheDir(),
      checkpointsDir: options.checkpointsDir,
      verificationImages,
      graph: options.naive ? 'naive' : 'optimized',
      onEvent: progress.onEvent,
    });
  } finally {
    progress.stop();
  }
  const written = [outDir];
  if (!options.outDir) {
    const published = await publishToTarget(
      'edge',
      outDir,
      built.map((b) => b.entry),
    );
    if (published.length > 0) written.push(targetDir('edge'));
  }
  const print = options.print ?? console.log;
  if (options.json) return print(JSON.stringify(built, null, 2));
  print(
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
  print(
    `\nwrote ${written.map((dir) => path.join(path.relative(process.cwd(), dir), 'manifest.json')).join(', ')}${verificationImages ? '' : ' (checked on synthetic inputs; pass --images DIR for real ones)'}`,
  );
}

/**
 * Build progress on stderr: on a terminal, bars (one for the build, one per download) redrawn in place; otherwise
 * (CI logs, pipes) plain lines, downloads at most twice a second.
 */
export function buildProgress(
  variants: readonly Variant[],
  stream: NodeJS.WriteStream = process.stderr,
): { onEvent(event: BuildEvent): void; stop(): void } {
  const megabytes = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  if (!stream.isTTY) {
    let lastDownloadLog = 0;
    return {
      onEvent(event) {
        if (event.kind === 'stage') return void stream.write(`[${event.variant}] ${event.stage}\n`);
        const now = Date.now();
        if (now - lastDownloadLog < 500 && event.received !== event.total) return;
        lastDownloadLog = now;
        const share = event.total ? ` (${((100 * event.received) / event.total).toFixed(0)}%)` : '';
        stream.write(`[${event.variant}] downloading ${megabytes(event.received)}${share}\n`);
      },
      stop() {},
    };
  }
  const bars = new MultiBar(
    { stream, hideCursor: true, clearOnComplete: false, format: ' {name} [{bar}] {percentage}% | {detail}' },
    Presets.shades_classic,
  );
  const build = bars.create(variants.length, 0, { name: 'build   ', detail: `${variants.length} variant(s)` });
  const downloads = new Map<Variant, SingleBar>();
  return {
    onEvent(event) {
      if (event.kind === 'stage') {
        if (event.stage === 'done') build.increment(1, { detail: `${event.variant} done` });
        else build.update({ detail: `${event.variant}: ${event.stage}` });
        return;
      }
      let bar = downloads.get(event.variant);
      if (!bar) {
        bar = bars.create(event.total ?? 1, 0, { name: event.variant.padEnd(8), detail: '' });
        downloads.set(event.variant, bar);
      }
      if (event.total) bar.setTotal(event.total);
      bar.update(event.received, {
        detail: `${megabytes(event.received)}${event.total ? ` of ${megabytes(event.total)}` : ''}`,
      });
    },
    stop: () => bars.stop(),
  };
}
