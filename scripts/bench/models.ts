/**
 * `npm run bench:models`: batch-1 latency of the exported graphs, side by side (runs interleaved, medians and p90),
 * in onnxruntime-web's wasm backend (1 thread, run in Node) and onnxruntime-node CPU (1 thread), with each
 * model's speedup over its baseline and the largest logit difference between the two.
 *
 *   npm run bench:models -- [--variants m0,m1] [--runs 50] [--warmup 20] [--backends wasm,node]
 *                           [--checkpoints DIR] [--json]
 *
 * Besides wall time it reports each run's process CPU time (models/toolchain/verify/latency.ts): on a shared machine
 * other processes stretch wall time far more than the CPU time the inference itself consumes. Other model kinds
 * (e.g. int8) join the table as more `BenchEntry` rows with a `baseline`.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isVariant } from '../../models/efficientvit.js';
import type { InferenceBackend, ModelSession } from '../../worker/core/inference/backend.js';
import { createOrtNodeBackend } from '../../worker/runtimes/node/inference/ort-node.js';
import { createOrtWebBackend } from '../../worker/core/inference/ort-web.js';
import { readCheckpoint } from '../../models/toolchain/checkpoint/index.js';
import { exportOnnx } from '../../models/toolchain/export/index.js';
import { EDGE_RECIPE, quantizeModel } from '../../models/toolchain/quantize/index.js';
import { formatTable } from '../../models/toolchain/table.js';
import { measureLatencies, type LatencyStats } from '../../models/toolchain/verify/latency.js';
import { exitOnHelp } from '../lib/cli.js';
import type { Variant } from '../../worker/core/manifest/manifest.js';

exitOnHelp(import.meta.url);

export interface BenchEntry {
  /** Row label, unique, e.g. 'm0 optimized fp32'. */
  name: string;
  variant: Variant;
  onnxBytes: Uint8Array;
  /** Name of the entry this one is compared with (speedup, logit difference). */
  baseline?: string;
}

export type BackendName = 'wasm' | 'node';

export interface BenchOptions {
  backends: BackendName[];
  runs: number;
  warmup: number;
  /** One image, float32 [1, 3, 224, 224]: the timed input. */
  input: Float32Array;
  /** A small batch, float32 [n, 3, 224, 224]: logits compared with the baseline's. */
  parityInput: { data: Float32Array; batch: number };
}

export interface BenchRow {
  model: string;
  variant: Variant;
  backend: string;
  bytes: number;
  /** Wall time per run (median, p10, p90) and process CPU time per run (median). */
  latency: LatencyStats;
  baseline?: string;
  /** Baseline median / this median (wall and CPU time); > 1 means faster. */
  speedup?: number;
  cpuSpeedup?: number;
  /** max |logit − baseline logit| over the parity batch. */
  maxAbsDiff?: number;
  /** Whether every image's top-5 (in order) matches the baseline's. */
  top5Agree?: boolean;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEFAULT_CHECKPOINTS = path.resolve(repoRoot, '../shared/fixtures/checkpoints');

export function createBackend(name: BackendName): InferenceBackend {
  if (name === 'node') return createOrtNodeBackend({ device: 'cpu', threads: 1 });
  const require = createRequire(import.meta.url);
  const wasmFile = path.join(path.dirname(require.resolve('onnxruntime-web/wasm')), 'ort-wasm-simd-threaded.wasm');
  return createOrtWebBackend(new Uint8Array(readFileSync(wasmFile)));
}

export async function runBenchmark(entries: BenchEntry[], options: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const backendName of options.backends) {
    const backend = createBackend(backendName);
    const sessions = new Map<string, ModelSession>();
    for (const entry of entries) sessions.set(entry.name, await backend.load(entry.onnxBytes));
    const { data, batch } = options.parityInput;
    const parityLogits = new Map<string, Float32Array>();
    for (const entry of entries)
      parityLogits.set(entry.name, (await sessions.get(entry.name)!.run(data, [batch, 3, 224, 224])).data);

    // Interleaved run by run, so that a noisy neighbour slows every model alike.
    const stats = await measureLatencies(
      Object.fromEntries(sessions),
      { data: options.input, dims: [1, 3, 224, 224] },
      { warmup: options.warmup, runs: options.runs },
    );
    for (const session of sessions.values()) await session.release();

    for (const entry of entries) {
      const own = stats[entry.name];
      const row: BenchRow = {
        model: entry.name,
        variant: entry.variant,
        backend: backend.name,
        bytes: entry.onnxBytes.byteLength,
        latency: own,
      };
      const base = entry.baseline ? stats[entry.baseline] : undefined;
      if (entry.baseline && base) {
        const a = parityLogits.get(entry.name)!;
        const b = parityLogits.get(entry.baseline)!;
        row.baseline = entry.baseline;
        row.speedup = base.medianMs / own.medianMs;
        row.cpuSpeedup = base.cpuMedianMs / own.cpuMedianMs;
        row.maxAbsDiff = a.reduce((max, v, i) => Math.max(max, Math.abs(v - b[i])), 0);
        row.top5Agree = top5(a, batch).every((t, i) => t.join() === top5(b, batch)[i].join());
      }
      rows.push(row);
    }
  }
  return rows;
}

function top5(logits: Float32Array, batch: number): number[][] {
  const classes = logits.length / batch;
  return Array.from({ length: batch }, (_, b) => {
    const row = logits.subarray(b * classes, (b + 1) * classes);
    return Array.from(row.keys())
      .sort((i, j) => row[j] - row[i])
      .slice(0, 5);
  });
}

export function formatBenchTable(rows: BenchRow[]): string {
  return formatTable(
    rows.map((r) => ({
      model: r.model,
      backend: r.backend,
      'median ms': r.latency.medianMs,
      'p90 ms': r.latency.p90Ms,
      'cpu median ms': r.latency.cpuMedianMs,
      speedup: r.speedup ?? '',
      'cpu speedup': r.cpuSpeedup ?? '',
      'max |Δlogit|': r.maxAbsDiff ?? '',
      'top-5 same': r.top5Agree === undefined ? '' : r.top5Agree ? 'yes' : 'NO',
    })),
  );
}

/** The fixture checkpoint of a variant in `dir`: efficientvit_<v>*.pth preferred, else .safetensors. */
function findCheckpoint(dir: string, variant: Variant): string {
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.startsWith(`efficientvit_${variant}.`))
        .sort()
    : [];
  const file = files.find((f) => f.endsWith('.pth')) ?? files.find((f) => f.endsWith('.safetensors'));
  if (!file) throw new Error(`no efficientvit_${variant}.*.pth or .safetensors in ${dir}`);
  return path.join(dir, file);
}

/** The golden preprocessed images next to the checkpoints when present, else a fixed smooth pattern. */
function benchInputs(checkpoints: string): { single: Float32Array; parity: { data: Float32Array; batch: number } } {
  const plane = 3 * 224 * 224;
  const golden = path.resolve(checkpoints, '../golden/m0.input.f32');
  let images: Float32Array;
  if (existsSync(golden)) {
    const bytes = readFileSync(golden);
    images = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  } else {
    images = Float32Array.from({ length: 4 * plane }, (_, i) => Math.sin(i * 0.001) + Math.cos(i * 0.37));
  }
  const batch = Math.min(8, images.length / plane);
  return { single: images.slice(0, plane), parity: { data: images.slice(0, batch * plane), batch } };
}

function parseArgs(argv: string[]) {
  const options = {
    variants: ['m0', 'm1'] as Variant[],
    runs: 50,
    warmup: 20,
    backends: ['wasm', 'node'] as BackendName[],
    checkpoints: DEFAULT_CHECKPOINTS,
    json: false,
    jsonFile: undefined as string | undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === '--variants') {
      options.variants = value()
        .split(',')
        .map((v) => {
          if (!isVariant(v)) throw new Error(`unknown variant '${v}' (m0 … m5)`);
          return v;
        });
    } else if (flag === '--runs') options.runs = positiveInt(flag, value());
    else if (flag === '--warmup') options.warmup = positiveInt(flag, value(), 0);
    else if (flag === '--checkpoints') options.checkpoints = path.resolve(value());
    else if (flag === '--backends') {
      options.backends = value()
        .split(',')
        .map((b) => {
          if (b !== 'wasm' && b !== 'node') throw new Error(`unknown backend '${b}' (wasm, node)`);
          return b;
        });
    } else if (flag === '--json') {
      // `--json FILE` writes the JSON there (what bench:report reads); a bare `--json` prints it.
      options.json = true;
      if (argv[i + 1] && !argv[i + 1].startsWith('--')) options.jsonFile = path.resolve(argv[++i]);
    } else throw new Error(`unknown option ${flag}`);
  }
  return options;
}

function positiveInt(flag: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be an integer ≥ ${min}`);
  return n;
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const entries: BenchEntry[] = [];
  for (const variant of options.variants) {
    const file = findCheckpoint(options.checkpoints, variant);
    const { stateDict } = readCheckpoint(new Uint8Array(readFileSync(file)), path.basename(file));
    const naive = `${variant} naive fp32`;
    entries.push({ name: naive, variant, onnxBytes: exportOnnx(stateDict, variant, { graph: 'naive' }) });
    const optimized = exportOnnx(stateDict, variant, { graph: 'optimized' });
    entries.push({ name: `${variant} optimized fp32`, variant, onnxBytes: optimized, baseline: naive });
    // The edge's int8 build (EDGE_RECIPE), against the fp32 graph it was made from.
    entries.push({
      name: `${variant} optimized int8`,
      variant,
      onnxBytes: await quantizeModel(optimized, [], EDGE_RECIPE),
      baseline: `${variant} optimized fp32`,
    });
  }
  const inputs = benchInputs(options.checkpoints);
  const rows = await runBenchmark(entries, {
    backends: options.backends,
    runs: options.runs,
    warmup: options.warmup,
    input: inputs.single,
    parityInput: inputs.parity,
  });
  const machine = {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    loadavg: os.loadavg(),
  };
  const json = JSON.stringify(
    { machine, runs: options.runs, warmup: options.warmup, batch: 1, threads: 1, rows },
    null,
    2,
  );
  if (options.jsonFile) writeFileSync(options.jsonFile, `${json}\n`);
  if (options.json && !options.jsonFile) {
    console.log(json);
  } else {
    console.log(
      `batch 1, 1 thread, ${options.warmup} warm-up + ${options.runs} interleaved runs; ${machine.cpu} ×${machine.cpus}, load ${machine.loadavg.map((l) => l.toFixed(1)).join(' ')}`,
    );
    console.log(formatBenchTable(rows));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
