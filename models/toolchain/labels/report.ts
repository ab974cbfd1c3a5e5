/** A training run's report (`<name>.report.json`) and its text summary (`<name>.report.txt`, and the CLI's output). */
import { formatTable } from '../table.js';
import type { BadImage } from './features.js';
import type { GridPoint } from './fit.js';
import type { Metrics } from './metrics.js';

export interface HeadReport {
  format: 'efficientvit-head-report/1';
  name: string;
  base: string;
  baseSha256: string;
  labels: string[];
  settings: { valFraction: number; seed: number; augment: number };
  images: { total: number; perLabel: Record<string, number>; skipped: BadImage[] };
  split: { trainImages: number; valImages: number; trainViews: number };
  decay: number;
  grid: GridPoint[];
  temperature: number;
  /** The head fitted on the train part, measured on the validation images (calibrated). */
  validation: Metrics & { eceBeforeTemperature: number };
  /** The final head on a held-out folder (`--test`). */
  test?: Metrics & {
    dir: string;
    skipped: BadImage[];
    predictions: { file: string; label: string; predicted: string; score: number }[];
  };
  /** The same fitting on raw pixels, for scale. */
  baseline?: { features: string; decay: number; validationAccuracy: number; testAccuracy?: number };
  cache: { hits: number; misses: number };
  seconds: { embeddings: number; fit: number; total: number };
}

const percent = (x: number | undefined) => (x === undefined ? '' : `${(100 * x).toFixed(1)}%`);

export function reportSummary(report: HeadReport): string {
  const { validation: val, test } = report;
  const lines = [
    `head ${report.name} on ${report.base}: ${report.labels.length} labels, ${report.images.total} images (${report.split.trainImages} train / ${report.split.valImages} validation, ${report.split.trainViews} training views), seed ${report.settings.seed}`,
    `weight decay ${report.decay} (chosen on validation from ${report.grid.map((g) => `${g.decay}: ${percent(g.valAccuracy)}`).join(', ')}); temperature ${report.temperature.toFixed(3)}`,
    '',
    formatTable([
      {
        set: 'validation',
        images: val.images,
        accuracy: percent(val.accuracy),
        top5: percent(val.top5),
        ECE: `${val.ece.toFixed(3)} (before T: ${val.eceBeforeTemperature.toFixed(3)})`,
        'raw-pixel baseline': percent(report.baseline?.validationAccuracy),
      },
      ...(test
        ? [
            {
              set: 'test (held out)',
              images: test.images,
              accuracy: percent(test.accuracy),
              top5: percent(test.top5),
              ECE: test.ece.toFixed(3),
              'raw-pixel baseline': percent(report.baseline?.testAccuracy),
            },
          ]
        : []),
    ]),
    '',
    `per label (${test ? 'test' : 'validation'}):`,
    formatTable(
      (test ?? val).perLabel.map((l) => ({
        label: l.label,
        images: l.support,
        precision: percent(l.precision),
        recall: percent(l.recall),
      })),
    ),
    '',
    `confusion (${test ? 'test' : 'validation'}; rows: true label, columns: predicted, in label order):`,
    ...(test ?? val).confusion.map(
      (row, i) =>
        `${report.labels[i].padEnd(Math.max(...report.labels.map((l) => l.length)))}  ${row.map((v) => String(v).padStart(3)).join(' ')}`,
    ),
    '',
    `time: embeddings ${report.seconds.embeddings.toFixed(1)} s (cache: ${report.cache.hits} hit, ${report.cache.misses} computed), fit ${report.seconds.fit.toFixed(1)} s, total ${report.seconds.total.toFixed(1)} s`,
  ];
  if (report.images.skipped.length > 0)
    lines.push(
      `skipped ${report.images.skipped.length} bad file(s): ${report.images.skipped.map((b) => b.file).join(', ')}`,
    );
  return lines.join('\n');
}
