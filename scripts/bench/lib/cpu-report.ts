/**
 * bench:node's CPU report, from the per-run CpuAccounts (proc-cpu.ts): cores busy per role, CPU ms per image per
 * role, and the bound CPU puts on throughput: with N cores, img/s ≤ N ÷ (CPU seconds per image, server + client).
 * A target above that bound cannot be met by threads on this machine, only by cores.
 */
import type { CpuAccount, Role } from './proc-cpu.js';
import { ROLES } from './proc-cpu.js';
import { median } from './stats.js';

export interface CpuRun {
  /** Images answered 2xx in the window. */
  ok: number;
  cpu?: CpuAccount;
}

type Part = Role | 'server' | 'client';

export interface CpuSummary {
  cores: number;
  /** CPU seconds ÷ wall seconds: `outside` is the machine's busy time that is neither the server nor the bench. */
  coresBusy: Record<Part | 'outside' | 'machine', number | undefined>;
  /** CPU ms per image answered; `total` = server + client. */
  msPerImage: Record<Part | 'total', number>;
  /** N ÷ total CPU seconds per image: the most img/s N cores give at this run's CPU cost per image. */
  ceiling: number;
  /** The same with the cores other jobs used during the run subtracted. */
  ceilingFree?: number;
}

function summarizeOne(ok: number, cpu: CpuAccount): CpuSummary {
  const seconds: Record<Part, number> = { ...cpu.server, server: cpu.server.total, client: cpu.client };
  const outside =
    cpu.machine === undefined ? undefined : Math.max(0, cpu.machine - cpu.server.total - cpu.client - cpu.idleServers);
  const coresBusy = {} as CpuSummary['coresBusy'];
  const msPerImage = {} as CpuSummary['msPerImage'];
  for (const part of [...ROLES, 'server', 'client'] as Part[]) {
    coresBusy[part] = seconds[part] / cpu.wallS;
    msPerImage[part] = (1000 * seconds[part]) / ok;
  }
  coresBusy.outside = outside === undefined ? undefined : outside / cpu.wallS;
  coresBusy.machine = cpu.machine === undefined ? undefined : cpu.machine / cpu.wallS;
  msPerImage.total = msPerImage.server + msPerImage.client;
  const ceiling = (1000 * cpu.cores) / msPerImage.total;
  const free = coresBusy.outside === undefined ? undefined : Math.max(0, cpu.cores - coresBusy.outside);
  return {
    cores: cpu.cores,
    coresBusy,
    msPerImage,
    ceiling,
    ceilingFree: free === undefined ? undefined : (1000 * free) / msPerImage.total,
  };
}

/** Medians over rounds, figure by figure; undefined when no run has CPU figures (not Linux) or answered nothing. */
export function summarizeCpu(runs: CpuRun[]): CpuSummary | undefined {
  const each = runs.flatMap((run) => (run.cpu && run.ok > 0 ? [summarizeOne(run.ok, run.cpu)] : []));
  if (each.length === 0) return undefined;
  const pick = (get: (summary: CpuSummary) => number | undefined) => {
    const values = each.map(get).filter((value): value is number => value !== undefined);
    return values.length ? median(values) : undefined;
  };
  const coresBusy = {} as CpuSummary['coresBusy'];
  for (const key of Object.keys(each[0].coresBusy) as (keyof CpuSummary['coresBusy'])[])
    coresBusy[key] = pick((summary) => summary.coresBusy[key]);
  const msPerImage = {} as CpuSummary['msPerImage'];
  for (const key of Object.keys(each[0].msPerImage) as (keyof CpuSummary['msPerImage'])[])
    msPerImage[key] = pick((summary) => summary.msPerImage[key])!;
  return {
    cores: each[0].cores,
    coresBusy,
    msPerImage,
    ceiling: pick((summary) => summary.ceiling)!,
    ceilingFree: pick((summary) => summary.ceilingFree),
  };
}

/**
 * How far N cores let `to` go past `from`'s img/s: at `to`'s own CPU cost per image (what it measured), and at
 * `from`'s (if adding threads cost no CPU), each on all N cores and on the cores other jobs left.
 */
export function ratioBound(
  from: { imagesPerSecond: number; cpu: CpuSummary },
  to: { imagesPerSecond: number; cpu: CpuSummary },
) {
  return {
    atOwnCost: to.cpu.ceiling / from.imagesPerSecond,
    atOwnCostFree: to.cpu.ceilingFree === undefined ? undefined : to.cpu.ceilingFree / from.imagesPerSecond,
    atFromCost: from.cpu.ceiling / from.imagesPerSecond,
    atFromCostFree: from.cpu.ceilingFree === undefined ? undefined : from.cpu.ceilingFree / from.imagesPerSecond,
  };
}

/** The decode-threads target against the CPU bound, in words: whether more threads can reach `minRatio` on these cores. */
export function boundLine(
  minRatio: number,
  from: { label: string; imagesPerSecond: number; cpu: CpuSummary },
  to: { label: string; imagesPerSecond: number; cpu: CpuSummary },
): string {
  const bound = ratioBound(from, to);
  const cores = from.cpu.cores;
  const busy = (cpu: CpuSummary) => (cpu.coresBusy.server ?? 0) + (cpu.coresBusy.client ?? 0);
  const left = (value: number | undefined) =>
    value === undefined ? '' : ` (${value.toFixed(2)}× on the cores other jobs left)`;
  const wanted = minRatio * from.imagesPerSecond;
  const best = Math.max(bound.atOwnCost, bound.atFromCost);
  return (
    `CPU bound on ${cores} cores: ${from.label} ${from.imagesPerSecond.toFixed(1)} img/s kept ${busy(from.cpu).toFixed(2)} cores busy ` +
    `(server + client) at ${from.cpu.msPerImage.total.toFixed(1)} CPU ms/image; ${to.label} ${to.imagesPerSecond.toFixed(1)} img/s ` +
    `kept ${busy(to.cpu).toFixed(2)} at ${to.cpu.msPerImage.total.toFixed(1)} ms/image. At most ${bound.atOwnCost.toFixed(2)}× ` +
    `at the second's CPU per image${left(bound.atOwnCostFree)}, ${bound.atFromCost.toFixed(2)}× at the first's${left(bound.atFromCostFree)}. ` +
    `${minRatio}× = ${wanted.toFixed(1)} img/s needs ≤ ${((1000 * cores) / wanted).toFixed(1)} CPU ms/image on ${cores} cores, ` +
    `or ${((wanted * to.cpu.msPerImage.total) / 1000).toFixed(2)} cores at the measured ${to.cpu.msPerImage.total.toFixed(1)} → ` +
    `${best >= minRatio ? 'within the bound' : 'beyond what these cores allow'}` +
    noisy(from.cpu, to.cpu)
  );
}

/** Other jobs' share of the cores above which a run says it was not measured on a quiet machine. */
const QUIET_CORES = 0.1;

/**
 * A ratio measured while other jobs took cores says little about this machine (the baseline run loses cores, so the
 * bound on all cores is loose): say so, next to the bound.
 */
function noisy(...cpus: CpuSummary[]): string {
  const outside = cpus.map((cpu) => cpu.coresBusy.outside ?? 0);
  if (Math.max(...outside) <= QUIET_CORES) return '';
  return (
    ` (NOT a quiet window: other jobs took ${outside.map((cores) => cores.toFixed(2)).join(' and ')} cores during ` +
    "these runs; the ratio and the all-cores bound are not this machine's, rerun when the machine is quiet)"
  );
}

const fixed = (value: number | undefined, digits: number) => (value === undefined ? '–' : value.toFixed(digits));

export interface CpuRow {
  label: string;
  imagesPerSecond: number;
  cpu?: CpuSummary;
  /** The pool's thread time (wall, from /v1/models) per image per decode thread: CPU plus time waiting for a core. */
  decodeWallMs?: number;
}

/** Two markdown tables: cores busy per role, then CPU ms per image per role with the ceiling next to the img/s. */
export function cpuTables(rows: CpuRow[]): string {
  const cores = rows.find((row) => row.cpu)?.cpu?.cores ?? 0;
  const busy = [
    `| run | img/s | server | HTTP thread | inference | decode | other threads | client | other jobs | machine (of ${cores}) |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const perImage = [
    `| run | img/s | HTTP thread | inference | decode | other threads | client | total | decode wall ms/image | ceiling img/s (${cores} cores) | ceiling (cores other jobs left) | img/s ÷ ceiling |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    const cpu = row.cpu;
    if (!cpu) continue;
    const b = cpu.coresBusy;
    const m = cpu.msPerImage;
    busy.push(
      `| ${row.label} | ${row.imagesPerSecond.toFixed(1)} | ${fixed(b.server, 2)} | ${fixed(b.http, 2)} | ${fixed(b.inference, 2)} | ` +
        `${fixed(b.decode, 2)} | ${fixed(b.other, 2)} | ${fixed(b.client, 2)} | ${fixed(b.outside, 2)} | ${fixed(b.machine, 2)} |`,
    );
    perImage.push(
      `| ${row.label} | ${row.imagesPerSecond.toFixed(1)} | ${fixed(m.http, 1)} | ${fixed(m.inference, 1)} | ${fixed(m.decode, 1)} | ` +
        `${fixed(m.other, 1)} | ${fixed(m.client, 1)} | ${fixed(m.total, 1)} | ${fixed(row.decodeWallMs, 1)} | ` +
        `${cpu.ceiling.toFixed(1)} | ${fixed(cpu.ceilingFree, 1)} | ${(row.imagesPerSecond / cpu.ceiling).toFixed(2)} |`,
    );
  }
  if (busy.length === 2) return '';
  return [
    'cores busy (CPU seconds ÷ wall seconds over each run, medians; other jobs = the machine less the server, the bench and its idle servers):\n',
    ...busy,
    `\nCPU ms per image answered (medians) and the CPU ceiling: img/s ≤ cores ÷ total CPU seconds per image:\n`,
    ...perImage,
  ].join('\n');
}

/**
 * The sizing formula for a many-core host from one model's runs with a decode pool: cores per role for a target
 * img/s. Decode and HTTP costs carry over to a GPU host; inference's CPU cost here is the CPU provider's.
 */
export function sizingLine(model: string, cpus: CpuSummary[]): string | undefined {
  if (cpus.length === 0) return undefined;
  const ms = (part: keyof CpuSummary['msPerImage']) => median(cpus.map((cpu) => cpu.msPerImage[part]));
  const decode = ms('decode');
  const http = ms('http');
  const other = ms('other');
  const host = decode + http + other;
  return (
    `${model}: CPU ms per image: decode ${decode.toFixed(1)}, HTTP thread ${http.toFixed(1)}, V8/libuv threads ${other.toFixed(1)} ` +
    `(inference on the CPU provider ${ms('inference').toFixed(1)}, the client ${ms('client').toFixed(1)}: a GPU host has neither here). ` +
    `For T img/s: decode cores = T × ${decode.toFixed(1)} ÷ 1000 (${Math.floor(1000 / decode)} img/s per decode core); ` +
    `processes ≥ T × ${http.toFixed(1)} ÷ 1000 (one HTTP thread each, ≤ ${Math.floor(1000 / http)} img/s); ` +
    `cores ≈ T × ${host.toFixed(1)} ÷ 1000 + what feeding the GPU costs (1,000 img/s: ${host.toFixed(1)} cores)`
  );
}
