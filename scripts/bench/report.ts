/**
 * `npm run bench:report`: regenerates the benchmark tables and charts in docs/performance.md from the JSON of the
 * runs in docs/bench/data, so that no figure there is copied by hand.
 *
 *   npm run bench:report -- [--check] [--data DIR] [--doc FILE] [--charts DIR]
 *
 * A generated block sits between `<!-- bench:report NAME -->` and `<!-- /bench:report -->`, headed by the command,
 * date and commit that produced its data (and the load average where the run recorded it). The blocks, and the runs
 * they read (--data, default docs/bench/data):
 *   edge-latency, edge-memory, edge-targets, edge-cold, edge-mixed, edge-charts   edge.json:   npm run bench:edge -- … --json FILE
 *   node-throughput                                                              node.json:   npm run bench:node -- … --json FILE
 *   models-latency                                                               models.json: npm run bench:models -- … --json FILE
 * The charts are SVG files in --charts (default docs/bench). --check writes nothing and exits 1 naming every block
 * and chart the report would change (test/scripts/bench/report.test.ts runs it, so a stale figure fails `npm test`).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { TopLevelSpec } from 'vega-lite';
import { docComment, runCli, UserError } from '../lib/cli.js';
import { coldRows, type EdgeRun, latencyRows, memoryRows, mixedRows, targetRows } from './edge/report.js';
import {
  coldWarmSpec,
  edgeLatencySpec,
  edgeStagesSpec,
  type ModelsRun,
  modelsSpec,
  type NodeRun,
  renderSvg,
  throughputSpec,
} from './lib/report-charts.js';
import type { RunRecord } from './lib/run.js';

type Row = Record<string, string | number>;
interface Loaded<T> {
  file: string;
  run: T & { recorded?: RunRecord };
}

/** A Markdown table as Biome formats one (docs are checked by `npm run lint`): numeric columns right-aligned. */
function markdownTable(rows: readonly Row[]): string {
  if (rows.length === 0) return '(none)';
  const columns = Object.keys(rows[0]);
  const cells = rows.map((row) => columns.map((c) => String(row[c] ?? '')));
  const right = columns.map((_, i) => cells.every((r) => /^[\d.-]/.test(r[i])));
  const widths = columns.map((c, i) => Math.max(3, c.length, ...cells.map((r) => r[i].length)));
  const line = (values: string[]) =>
    `| ${values.map((v, i) => (right[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join(' | ')} |`;
  const rule = widths.map((w, i) => (right[i] ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w)));
  return [line(columns), line(rule), ...cells.map(line)].join('\n');
}

function source(file: string, recorded: RunRecord | undefined, load?: number[][]): string {
  const where = `\`${path.relative(process.cwd(), file)}\``;
  if (!recorded) return `From ${where} (its command and date were not recorded).`;
  const loadText = load?.length
    ? `; load average ${load.map((l) => l.map((x) => x.toFixed(1)).join(' ')).join(' → ')}`
    : '';
  const commit = recorded.commit ? ` at commit ${recorded.commit}` : '';
  return `From ${where}: \`${recorded.command}\`, ${recorded.date}${commit}${loadText}.`;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      check: { type: 'boolean', default: false },
      data: { type: 'string', default: 'docs/bench/data' },
      doc: { type: 'string', default: 'docs/performance.md' },
      charts: { type: 'string', default: 'docs/bench' },
    },
  });
  const read = <T>(name: string): Loaded<T> => {
    const file = path.join(values.data, name);
    if (!existsSync(file)) throw new UserError(`${file}: no such file (a block in ${values.doc} needs it)`);
    return { file, run: JSON.parse(readFileSync(file, 'utf8')) };
  };
  const charts = new Map<string, Promise<string>>();
  const chart = (name: string, spec: TopLevelSpec) => {
    charts.set(name, renderSvg(spec));
    const link = path.relative(path.dirname(values.doc), path.join(values.charts, `${name}.svg`));
    return `![${spec.title}](${link})`;
  };
  const edge = () => {
    const { file, run } = read<EdgeRun>('edge.json');
    const load = run.machine?.loadAverage;
    return { run, head: source(file, run.recorded, load && [load.start, load.end]) };
  };
  const blocks: Record<string, () => string> = {
    'edge-latency': () => table(edge(), latencyRows),
    'edge-memory': () => table(edge(), memoryRows),
    'edge-targets': () => table(edge(), targetRows),
    'edge-cold': () => table(edge(), coldRows),
    'edge-mixed': () => table(edge(), mixedRows),
    'edge-charts': () => {
      const { run, head } = edge();
      const specs = { 'edge-latency': edgeLatencySpec, 'edge-stages': edgeStagesSpec, 'edge-cold-warm': coldWarmSpec };
      return [head, ...Object.entries(specs).map(([name, spec]) => chart(name, spec(run)))].join('\n\n');
    },
    'node-throughput': () => {
      const { file, run } = read<NodeRun>('node.json');
      const rows = run.measurements.map((m) => ({
        model: m.variant,
        batching: m.batching ? 'on' : 'off',
        clients: m.concurrency,
        'img/s': round(m.imagesPerSecond),
        'p50 ms': round(m.p50Ms),
        'p99 ms': round(m.p99Ms),
      }));
      return [source(file, run.recorded), markdownTable(rows), chart('node-throughput', throughputSpec(run))].join(
        '\n\n',
      );
    },
    'models-latency': () => {
      const { file, run } = read<ModelsRun>('models.json');
      const rows = run.rows.map((r) => ({
        model: r.model,
        backend: r.backend,
        'median ms': round(r.latency.medianMs),
        'p10 – p90 ms': `${round(r.latency.p10Ms)} – ${round(r.latency.p90Ms)}`,
        'cpu median ms': round(r.latency.cpuMedianMs),
        speedup: r.speedup === undefined ? '' : round(r.speedup),
        'max abs Δlogit': r.maxAbsDiff === undefined ? '' : Number(r.maxAbsDiff.toPrecision(3)),
      }));
      const head = source(file, run.recorded, run.machine?.loadavg && [run.machine.loadavg]);
      return [head, markdownTable(rows), chart('models-latency', modelsSpec(run))].join('\n\n');
    },
  };

  const doc = readFileSync(values.doc, 'utf8');
  const stale: string[] = [];
  const updated = doc.replace(
    /(<!-- bench:report ([\w-]+) -->)[\s\S]*?(<!-- \/bench:report -->)/g,
    (whole, open: string, name: string, close: string) => {
      const render = blocks[name];
      if (!render) throw new UserError(`${values.doc}: unknown block "${name}" (${Object.keys(blocks).join(', ')})`);
      const generated = `${open}\n\n${render()}\n\n${close}`;
      if (generated !== whole) stale.push(`${values.doc}: ${name}`);
      return generated;
    },
  );
  const svgs = await Promise.all(
    [...charts].map(async ([name, svg]) => ({ file: path.join(values.charts, `${name}.svg`), svg: await svg })),
  );
  for (const { file, svg } of svgs) if (!existsSync(file) || readFileSync(file, 'utf8') !== svg) stale.push(file);
  if (values.check) {
    if (stale.length === 0) return 0;
    console.error(`error: out of date, run \`npm run bench:report\`: ${stale.join(', ')}`);
    return 1;
  }
  writeFileSync(values.doc, updated);
  for (const { file, svg } of svgs) writeFileSync(file, svg);
  console.log(stale.length ? `updated ${stale.join(', ')}` : 'up to date');
  return 0;
}

function table(from: { run: EdgeRun; head: string }, rows: (run: EdgeRun) => Row[]): string {
  return `${from.head}\n\n${markdownTable(rows(from.run))}`;
}

const round = (value: number) => Number(value.toPrecision(3));

void runCli(docComment(readFileSync(new URL(import.meta.url), 'utf8')), main);
