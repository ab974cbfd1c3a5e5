/**
 * The edge's targets, checked on every bench:edge run: M0 int8 warm end to end ≤ 40 ms for an ImageNet-size
 * JPEG; for the 12 MP phone photo ≤ 600 ms and an isolate memory peak under Workers' 128 MB.
 */
import { IMAGES, type ImageKey, MiB } from './setup.js';
import type { Cell } from './warm.js';

const TARGETS: { model: string; image: ImageKey; maxWarmMs: number; maxIsolateMB?: number }[] = [
  { model: 'm0', image: 'imagenet', maxWarmMs: 40 },
  { model: 'm0', image: 'phone', maxWarmMs: 600, maxIsolateMB: 128 },
];

export interface TargetResult {
  what: string;
  value: number;
  pass: boolean;
}

export function targetResults(cells: readonly Cell[]): TargetResult[] {
  return TARGETS.flatMap((target) => {
    const cell = cells.find((c) => c.model === target.model && c.image === target.image);
    if (!cell) return [];
    const label = `${target.model} ${IMAGES[target.image].label}`;
    const warm = cell.warm.e2eP50Ms;
    const checks = [
      { what: `${label}: warm end-to-end p50 ≤ ${target.maxWarmMs} ms`, value: warm, pass: warm <= target.maxWarmMs },
    ];
    if (target.maxIsolateMB !== undefined) {
      const peakMB = (cell.isolate.peakMiB * MiB) / 1e6;
      checks.push({
        what: `${label}: isolate memory peak < ${target.maxIsolateMB} MB`,
        value: peakMB,
        pass: peakMB < target.maxIsolateMB,
      });
    }
    return checks;
  });
}
