/**
 * `npm run models -- train`: the CLI side of models/toolchain/labels/train.ts — the build folders, onnxruntime-node
 * for the embeddings, progress bars, the confusion chart (Vega-Lite), the summary.
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import path from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { HeadReport } from '../../models/toolchain/labels/report.js';
import { reportSummary } from '../../models/toolchain/labels/report.js';
import { type TrainEvent, type TrainResult, trainHead } from '../../models/toolchain/labels/train.js';
import { buildRoot, targetDir } from '../../models/toolchain/targets.js';
import { readManifest } from '../../models/toolchain/manifest-file.js';
import { VARIANTS, type Variant } from '../../worker/core/manifest/manifest.js';
import { createOrtNodeBackend } from '../../worker/runtimes/node/inference/ort-node.js';
import { renderSvg } from '../bench/lib/report-charts.js';
import { runBuild } from './build-cli.js';
import { UsageError } from './cli.js';
import { nodeToolchainHost } from './node-host.js';

export interface TrainCliOptions {
  base: string;
  imagesDir: string;
  name: string;
  testDir?: string;
  checkpointsDir?: string;
  valFraction: number;
  seed: number;
  augment: number;
  skipBad: boolean;
  replace: boolean;
  json: boolean;
}

/** The confusion matrix as a Vega-Lite heat map with the counts written in. */
export function confusionSpec(report: HeadReport): TopLevelSpec {
  const metrics = report.test ?? report.validation;
  const values = metrics.confusion.flatMap((row, t) =>
    row.map((count, p) => ({ true: report.labels[t], predicted: report.labels[p], count })),
  );
  const axis = { sort: report.labels };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `${report.name} on ${report.base}: confusion on the ${report.test ? 'held-out test' : 'validation'} images (accuracy ${(100 * metrics.accuracy).toFixed(1)}%)`,
    data: { values },
    width: Math.max(200, 28 * report.labels.length),
    height: Math.max(200, 28 * report.labels.length),
    encoding: {
      x: { field: 'predicted', type: 'nominal', ...axis },
      y: { field: 'true', type: 'nominal', ...axis },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'count', type: 'quantitative', scale: { scheme: 'blues' } } } },
      {
        mark: { type: 'text', fontSize: 10 },
        transform: [{ filter: 'datum.count > 0' }],
        encoding: { text: { field: 'count', type: 'quantitative' } },
      },
    ],
  };
}

/** Progress on stderr: bars on a terminal, otherwise a line per stage. */
function trainProgress(stream: NodeJS.WriteStream = process.stderr): { onEvent(e: TrainEvent): void; stop(): void } {
  if (!stream.isTTY) {
    let last = '';
    return {
      onEvent(event) {
        const line =
          event.kind === 'stage'
            ? event.stage
            : event.kind === 'images'
              ? event.done === 0 || event.done === event.total
                ? `${event.set} images: ${event.done}/${event.total}`
                : ''
              : `fit ${event.done}/${event.total}: ${event.what}`;
        if (line && line !== last) stream.write(`${line}\n`);
        last = line || last;
      },
      stop() {},
    };
  }
  const bars = new MultiBar(
    { stream, hideCursor: true, clearOnComplete: false, format: ' {name} [{bar}] {value}/{total} | {detail}' },
    Presets.shades_classic,
  );
  const named = new Map<string, SingleBar>();
  const bar = (name: string, total: number) => {
    let existing = named.get(name);
    if (!existing) {
      existing = bars.create(total, 0, { name: name.padEnd(7), detail: '' });
      named.set(name, existing);
    }
    return existing;
  };
  return {
    onEvent(event) {
      if (event.kind === 'images') bar(event.set, event.total).update(event.done, { detail: 'embeddings' });
      else if (event.kind === 'fit') bar('fit', event.total).update(event.done, { detail: event.what });
    },
    stop: () => bars.stop(),
  };
}

function baseVariant(base: string): Variant | undefined {
  const variant = /^(m[0-9])(?:-|$)/.exec(base)?.[1];
  return VARIANTS.find((v) => v === variant);
}

export async function runTrain(options: TrainCliOptions): Promise<TrainResult> {
  if (!(options.valFraction > 0 && options.valFraction < 1)) throw new UsageError('--val must be between 0 and 1');
  if (!Number.isInteger(options.seed) || options.seed < 0) throw new UsageError('--seed must be a whole number');
  if (!Number.isInteger(options.augment) || options.augment < 0 || options.augment > 16)
    throw new UsageError('--augment must be a whole number from 0 to 16');
  const targets = (['node', 'edge'] as const).map((name) => ({ name, dir: targetDir(name) }));
  // --checkpoints: build the base first when no build folder has it (as `models build --variants <base>` would).
  if (options.checkpointsDir) {
    const built = await Promise.all(targets.map((t) => readManifest(t.dir)));
    if (!built.some((m) => m?.models.some((model) => model.name === options.base))) {
      const variant = baseVariant(options.base);
      if (!variant) throw new UsageError(`--base ${options.base} is not a model name the build makes (m0 … m5)`);
      // stdout is the training's (its --json); the base build reports on stderr.
      await runBuild({
        variants: [variant],
        precisions: ['fp32', 'int8'],
        checkpointsDir: options.checkpointsDir,
        print: (text) => console.error(text),
      });
    }
  }
  const progress = trainProgress();
  let result: TrainResult;
  try {
    result = await trainHead({
      name: options.name,
      base: options.base,
      imagesDir: path.resolve(options.imagesDir),
      testDir: options.testDir ? path.resolve(options.testDir) : undefined,
      valFraction: options.valFraction,
      seed: options.seed,
      augment: options.augment,
      skipBad: options.skipBad,
      replace: options.replace,
      targets,
      cacheDir: path.join(buildRoot(), '.cache', 'labels'),
      backend: createOrtNodeBackend({ device: 'cpu' }),
      codec: await nodeToolchainHost.imageCodec(),
      host: nodeToolchainHost,
      renderChart: (report) => renderSvg(confusionSpec(report)),
      onEvent: progress.onEvent,
    });
  } finally {
    progress.stop();
  }
  if (options.json) {
    console.log(JSON.stringify(result.report, null, 2));
    return result;
  }
  console.log(reportSummary(result.report));
  const relative = (file: string) => path.relative(process.cwd(), file);
  console.log(
    `\nwrote ${result.written.map((dir) => relative(path.join(dir, `${options.name}.head.json`))).join(', ')} (+ labels, report, confusion chart; manifest updated)`,
  );
  for (const { dir, reason } of result.skipped) console.log(`not written to ${relative(dir)}: ${reason}`);
  return result;
}
