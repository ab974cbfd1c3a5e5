/**
 * A bench:edge run as tables: what `npm run bench:edge` prints and what `npm run bench:report` writes into
 * docs/performance.md, from the same rows. The JSON shape (`--json FILE`) is EdgeRun.
 */
import type { RunRecord } from '../lib/run.js';
import { median, percentile } from '../lib/stats.js';
import { type ColdStarts, FOLLOWING_REQUESTS } from './cold.js';
import type { Mixed } from './mixed.js';
import { IMAGES } from './setup.js';
import type { TargetResult } from './targets.js';
import type { Cell } from './warm.js';

export interface EdgeRun {
  /** How the run was made (absent in runs from before it was recorded). */
  recorded?: RunRecord;
  machine?: { cpus: number; node: string; miniflare: string; loadAverage: { start: number[]; end: number[] } };
  settings?: Record<string, unknown>;
  cells: Cell[];
  colds?: ColdStarts[];
  mixed?: Mixed;
  targets?: TargetResult[];
}

type Row = Record<string, string | number>;
const round = (value: number, digits = 1) => Number(value.toFixed(digits));
/** Median / p90, or – where the run did not measure it. */
const mp = (values: number[]) =>
  values.length ? `${round(median(values), 0)} / ${round(percentile(values, 0.9), 0)}` : '–';
const p50 = (values: number[], digits = 1) => (values.length ? round(median(values), digits) : '–');

/** Runs from before the start-up session (2026-12-02) recorded neither the entry, the start CPU nor requests 6–20. */
const coldStarts = (run: EdgeRun): ColdStarts[] =>
  (run.colds ?? []).map((c) => ({
    ...{ entry: '', startupCpuMs: [], startupV8BackgroundMs: [] },
    ...c,
    runs: c.runs.map((r) => ({ ...{ nextInferenceMs: [], nextDecodePrepMs: [], laterMs: [] }, ...r })),
  }));

/** Warm latency per cell: end to end, the worker's stages, the Node references, top-1 agreement. */
export const latencyRows = (run: EdgeRun): Row[] =>
  run.cells.map((c) => ({
    image: c.imageLabel,
    model: c.model,
    'start ms': round(c.startupMs, 0),
    'cold ms': round(c.cold.e2eMs, 0),
    'warm p50': round(c.warm.e2eP50Ms),
    'warm p90': round(c.warm.e2eP90Ms),
    'decode / prep / infer': `${round(c.warm.decodeP50Ms)} / ${round(c.warm.preprocessP50Ms)} / ${round(c.warm.inferenceP50Ms)}`,
    'node p50': round(c.node.totalP50Ms),
    'node decode / prep / infer': `${round(c.node.decodeP50Ms)} / ${round(c.node.preprocessP50Ms)} / ${round(c.node.inferenceP50Ms)}`,
    'wasm-in-node infer': round(c.nodeWasm.inferenceP50Ms),
    'infer × wasm-in-node': round(c.warm.inferenceP50Ms / c.nodeWasm.inferenceP50Ms, 2),
    'top-1 =': c.top1Agrees ? 'yes' : 'NO',
  }));

/** Isolate memory (what the 128 MB limit counts) and the workerd process's RSS, per cell. */
export const memoryRows = (run: EdgeRun): Row[] =>
  run.cells.map((c) => ({
    image: c.imageLabel,
    model: c.model,
    'isolate peak MiB': round(c.isolate.peakMiB),
    'ORT wasm MiB': round(c.isolate.onnxruntimeWasmMiB),
    'decoder wasm MiB': round(c.isolate.otherWasmMiB),
    'retained MiB': round(c.isolate.retainedMiB),
    'RSS idle / after cold / peak MiB': `${round(c.memory.idleRssMiB, 0)} / ${round(c.memory.afterColdRssMiB, 0)} / ${round(c.memory.peakRssMiB, 0)}`,
  }));

/** Cold starts per model (median / p90 over the fresh processes), requests 2–5 against the cell's warm p50. */
export const coldRows = (run: EdgeRun): Row[] =>
  coldStarts(run).map((c) => {
    const cell = run.cells.find((cell) => cell.model === c.model && cell.image === c.image);
    const warm = cell?.warm.e2eP50Ms ?? Number.NaN;
    const warmDecodePrep = (cell?.warm.decodeP50Ms ?? Number.NaN) + (cell?.warm.preprocessP50Ms ?? Number.NaN);
    const ratios = c.runs.map((run) => Math.max(...run.nextMs) / warm);
    const runs = (pick: (r: ColdStarts['runs'][number]) => number[]) => c.runs.flatMap(pick);
    return {
      image: IMAGES[c.image].label,
      model: c.model,
      entry: c.entry,
      n: c.runs.length,
      'start ms': p50(c.startupMs, 0),
      'start CPU ms': mp(c.startupCpuMs),
      'V8 bg CPU': mp(c.startupV8BackgroundMs),
      'cold e2e': mp(runs((r) => [r.e2eMs])),
      model_wait: mp(runs((r) => [r.modelWaitMs])),
      session: mp(runs((r) => [r.sessionMs])),
      'first run': mp(runs((r) => [r.firstRunMs])),
      ...Object.fromEntries(
        Array.from({ length: FOLLOWING_REQUESTS }, (_, i) => [`req ${i + 2}`, p50(runs((r) => [r.nextMs[i]]))]),
      ),
      'warm p50': round(warm),
      'req 11–20 p50': p50(runs((r) => r.laterMs)),
      '2–5 infer / warm': `${p50(runs((r) => r.nextInferenceMs))} / ${round(cell?.warm.inferenceP50Ms ?? Number.NaN)}`,
      '2–5 dec+prep / warm': `${p50(runs((r) => r.nextDecodePrepMs))} / ${round(warmDecodePrep)}`,
      'worst of 2–5 × warm': `${round(median(ratios), 2)} / ${round(Math.max(...ratios), 2)}`,
    };
  });

/** Mixed traffic per phase, against m0 alone at the same concurrency (one isolate runs one inference at a time). */
export const mixedRows = (run: EdgeRun): Row[] => {
  const phases = run.mixed?.phases ?? [];
  const alone = (concurrency: number) =>
    phases.find((p) => p.name === 'm0 alone' && p.concurrency === concurrency)?.p50Ms ?? Number.NaN;
  return phases.map((p) => ({
    traffic: p.name,
    concurrency: p.concurrency,
    requests: p.e2eMs.length,
    p50: round(p.p50Ms),
    p90: round(p.p90Ms),
    '× m0 alone p50': round(p.p50Ms / alone(p.concurrency), 2),
    'isolate MiB': round(p.isolateMiB),
    'top-1 consistent': p.correct ? 'yes' : 'NO',
  }));
};

export const targetRows = (run: EdgeRun): Row[] =>
  (run.targets ?? []).map((t) => ({ target: t.what, measured: round(t.value), met: t.pass ? 'yes' : 'NO' }));
