/**
 * The benchmark report's charts: Vega-Lite specs built from the JSON that bench:edge, bench:node and bench:models
 * write, compiled to Vega and rendered to SVG in Node (no browser, no canvas).
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { EdgeRun } from '../edge/report.js';
import type { RunRecord } from './run.js';
import { median } from './stats.js';

/** bench:node's JSON (scripts/bench/node.ts, `--json FILE`). */
export interface NodeRun {
  recorded?: RunRecord;
  measurements: {
    variant: string;
    batching: boolean;
    concurrency: number;
    imagesPerSecond: number;
    p50Ms: number;
    p99Ms: number;
  }[];
}

/** bench:models' JSON (scripts/bench/models.ts, `--json FILE`). */
export interface ModelsRun {
  recorded?: RunRecord;
  machine?: { loadavg?: number[] };
  rows: {
    model: string;
    backend: string;
    latency: { medianMs: number; p10Ms: number; p90Ms: number; cpuMedianMs: number };
    speedup?: number;
    maxAbsDiff?: number;
  }[];
}

const WIDTH = 520;
const cellName = (cell: EdgeRun['cells'][number]) => `${cell.model} · ${cell.imageLabel}`;

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}

/** Warm end-to-end latency of every edge request, per model × image: the whole distribution, not just p50. */
export function edgeLatencySpec(run: EdgeRun): TopLevelSpec {
  const values = run.cells.flatMap((cell) => cell.warm.samples.map((ms) => ({ cell: cellName(cell), ms })));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Edge (workerd): warm end-to-end latency per request',
    width: WIDTH,
    data: { values },
    layer: [
      { mark: { type: 'boxplot', extent: 'min-max', opacity: 0.5 } },
      { mark: { type: 'tick', color: '#333', opacity: 0.6 } },
    ],
    encoding: {
      y: { field: 'cell', type: 'nominal', title: null, axis: { labelLimit: 400 } },
      x: { field: 'ms', type: 'quantitative', title: 'ms (log)', scale: { type: 'log' } },
    },
  };
}

/** Where a warm request's time goes (medians), workerd next to the same pipeline natively in Node. */
export function edgeStagesSpec(run: EdgeRun): TopLevelSpec {
  const values = run.cells.flatMap((cell) => [
    ...stages(`${cellName(cell)} · workerd`, cell.warm),
    ...stages(`${cellName(cell)} · Node native`, cell.node),
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Stage breakdown of a warm request (medians)',
    width: WIDTH,
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'run', type: 'nominal', title: null, sort: null, axis: { labelLimit: 400 } },
      x: { field: 'ms', type: 'quantitative', title: 'ms', stack: 'zero' },
      color: { field: 'stage', type: 'nominal', sort: ['decode', 'preprocess', 'inference'] },
      order: { field: 'order' },
    },
  };
}

function stages(run: string, t: { decodeP50Ms: number; preprocessP50Ms: number; inferenceP50Ms: number }) {
  return [
    { run, stage: 'decode', order: 0, ms: t.decodeP50Ms },
    { run, stage: 'preprocess', order: 1, ms: t.preprocessP50Ms },
    { run, stage: 'inference', order: 2, ms: t.inferenceP50Ms },
  ];
}

/** A fresh isolate's first request against the warm p50, end to end. */
export function coldWarmSpec(run: EdgeRun): TopLevelSpec {
  const values = run.cells.flatMap((cell) => {
    const colds = run.colds?.find((c) => c.model === cell.model)?.runs.map((r) => r.e2eMs) ?? [];
    const cold = colds.length ? median([cell.cold.e2eMs, ...colds]) : cell.cold.e2eMs;
    return [
      { cell: cellName(cell), request: 'cold (first request, median)', ms: cold },
      { cell: cellName(cell), request: 'warm (p50)', ms: cell.warm.e2eP50Ms },
    ];
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Cold vs warm request, end to end',
    width: WIDTH,
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'cell', type: 'nominal', title: null, axis: { labelLimit: 400 } },
      yOffset: { field: 'request' },
      // Linear: a bar starts at 0, which a log scale cannot show.
      x: { field: 'ms', type: 'quantitative', title: 'ms' },
      color: { field: 'request', type: 'nominal', legend: { labelLimit: 300 } },
    },
  };
}

/** The Node server's throughput as clients are added, dynamic batching off and on. */
export function throughputSpec(run: NodeRun): TopLevelSpec {
  const values = run.measurements.map((m) => ({
    series: `${m.variant}, batching ${m.batching ? 'on' : 'off'}`,
    concurrency: m.concurrency,
    imagesPerSecond: m.imagesPerSecond,
  }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Node server: img/s vs concurrent clients',
    width: WIDTH,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'concurrency', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'concurrent clients' },
      y: { field: 'imagesPerSecond', type: 'quantitative', title: 'img/s' },
      color: { field: 'series', type: 'nominal', title: null },
    },
  };
}

/** Batch-1 latency of each graph per backend: median with the p10–p90 range. */
export function modelsSpec(run: ModelsRun): TopLevelSpec {
  const values = run.rows.map((row) => ({
    row: `${row.model} · ${row.backend}`,
    median: row.latency.medianMs,
    p10: row.latency.p10Ms,
    p90: row.latency.p90Ms,
  }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Model graphs, batch 1, 1 thread: median and p10–p90',
    width: WIDTH,
    data: { values },
    encoding: { y: { field: 'row', type: 'nominal', title: null, sort: null, axis: { labelLimit: 400 } } },
    layer: [
      {
        mark: 'rule',
        encoding: { x: { field: 'p10', type: 'quantitative', title: 'ms' }, x2: { field: 'p90' } },
      },
      { mark: { type: 'point', filled: true, size: 60 }, encoding: { x: { field: 'median', type: 'quantitative' } } },
    ],
  };
}
