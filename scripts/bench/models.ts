/**
 * `npm run bench:models`: batch-1 latency of the exported graphs, side by side (runs interleaved, medians and p90),
 * in onnxruntime-web's wasm backend (1 thread, run in Node) and onnxruntime-node CPU (1 thread): per variant the
 * naive fp32 graph, the optimized fp32 graph (against naive) and the edge's int8 build (against optimized fp32),
 * each with its speedup over the row it is compared with and the largest logit difference between the two.
 *
 *   npm run bench:models -- [--variants m0,m1] [--runs 50] [--warmup 20] [--backends wasm,node]
 *                           [--checkpoints DIR] [--json FILE]
 *
 * Besides wall time it reports each run's process CPU time (models/toolchain/verify/latency.ts): on a shared machine
 * other processes stretch wall time far more than the CPU time the inference itself consumes. --json FILE writes the
 * run, which `npm run bench:report` turns into docs/performance.md's "Model graphs" table and chart.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isVariant } from '../../models/efficientvit.js';
import type { InferenceBackend, ModelSession } from '../../worker/core/inference/backend.js';
import { createOrtNodeBackend } from '../../worker/runtimes/node/inference/ort-node.js';
import { createOrtWebBackend } from '../../worker/core/inference/ort-web.js';
import { readCheckpoint } from '../../models/toolchain/checkpoint/index.js';
import { exportOnnx } from '../../models/toolchain/export/index.js';
import { EDGE_RECIPE, quantizeModel } from '../../models/toolchain/quantize/index.js';
import { formatTable } from '../../models/toolchain/table.js';
import { measureLatencies, type LatencyStats } from '../../models/toolchain/verify/latency.js';
import { docComment, runCli, UsageError } from '../lib/cli.js';
import type { Variant } from '../../worker/core/manifest/manifest.js';
import { countOption, listOption, runRecord, stringOptions } from './lib/run.js';

interface Entry {
  /** Row label, unique, e.g. 'm0 optimized fp32'. */
  name: string;
  variant: Variant;
  onnxBytes: Uint8Array;
  /** The entry this one is compared with (speedup, logit difference). */
  baseline?: string;
}

interface Row {
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
const DIMS = [1, 3, 224, 224];

function createBackend(name: string): InferenceBackend {
  if (name === 'node') return createOrtNodeBackend({ device: 'cpu', threads: 1 });
  const require = createRequire(import.meta.url);
  const wasmFile = path.join(path.dirname(require.resolve('onnxruntime-web/wasm')), 'ort-wasm-simd-threaded.wasm');
  return createOrtWebBackend(new Uint8Array(readFileSync(wasmFile)));
}

/** Per backend: every entry's logits on the parity batch, then the latencies, interleaved run by run. */
async function measure(
  entries: Entry[],
  backends: string[],
  inputs: ReturnType<typeof benchInputs>,
  settings: { runs: number; warmup: number },
): Promise<Row[]> {
  const rows: Row[] = [];
  for (const backendName of backends) {
    const backend = createBackend(backendName);
    const sessions = new Map<string, ModelSession>();
    for (const entry of entries) sessions.set(entry.name, await backend.load(entry.onnxBytes));
    const { data, batch } = inputs.parity;
    const logits = new Map<string, Float32Array>();
    for (const [name, session] of sessions) logits.set(name, (await session.run(data, [batch, ...DIMS.slice(1)])).data);
    // Interleaved run by run, so that a noisy neighbour slows every model alike.
    const stats = await measureLatencies(Object.fromEntries(sessions), { data: inputs.single, dims: DIMS }, settings);
    for (const session of sessions.values()) await session.release();
    for (const entry of entries) {
      const own = stats[entry.name];
      const row: Row = {
        model: entry.name,
        variant: entry.variant,
        backend: backend.name,
        bytes: entry.onnxBytes.byteLength,
        latency: own,
      };
      const base = entry.baseline ? stats[entry.baseline] : undefined;
      if (entry.baseline && base) {
        const a = logits.get(entry.name)!;
        const b = logits.get(entry.baseline)!;
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

/** The fixture checkpoint of a variant in `dir`: efficientvit_<v>*.pth preferred, else .safetensors. */
function findCheckpoint(dir: string, variant: Variant): string {
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(`efficientvit_${variant}.`)) : [];
  const file = files.sort().find((f) => f.endsWith('.pth')) ?? files.find((f) => f.endsWith('.safetensors'));
  if (!file) throw new UsageError(`no efficientvit_${variant}.*.pth or .safetensors in ${dir}`);
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

async function main(argv: string[]): Promise<void> {
  const values = stringOptions(argv, {
    variants: 'm0,m1',
    runs: '50',
    warmup: '20',
    backends: 'wasm,node',
    checkpoints: path.resolve(repoRoot, '../shared/fixtures/checkpoints'),
    json: undefined,
  });
  const variants = listOption(values.variants).map((v) => {
    if (!isVariant(v)) throw new UsageError(`unknown variant '${v}' (m0 … m5)`);
    return v;
  });
  const backends = listOption(values.backends);
  for (const b of backends)
    if (b !== 'wasm' && b !== 'node') throw new UsageError(`unknown backend '${b}' (wasm, node)`);
  const settings = { runs: countOption(values.runs, 'runs'), warmup: countOption(values.warmup, 'warmup', 0) };
  const recorded = runRecord('bench:models', argv);

  const entries: Entry[] = [];
  for (const variant of variants) {
    const file = findCheckpoint(values.checkpoints, variant);
    const { stateDict } = readCheckpoint(new Uint8Array(readFileSync(file)), path.basename(file));
    const naive = `${variant} naive fp32`;
    const optimizedName = `${variant} optimized fp32`;
    const optimized = exportOnnx(stateDict, variant, { graph: 'optimized' });
    entries.push(
      { name: naive, variant, onnxBytes: exportOnnx(stateDict, variant, { graph: 'naive' }) },
      { name: optimizedName, variant, onnxBytes: optimized, baseline: naive },
      // The edge's int8 build (EDGE_RECIPE), against the fp32 graph it was made from.
      {
        name: `${variant} optimized int8`,
        variant,
        onnxBytes: await quantizeModel(optimized, [], EDGE_RECIPE),
        baseline: optimizedName,
      },
    );
  }
  const rows = await measure(entries, backends, benchInputs(values.checkpoints), settings);
  const cpus = os.cpus();
  const machine = { cpus: cpus.length, cpu: cpus[0]?.model ?? 'unknown', node: process.version, loadavg: os.loadavg() };
  if (values.json) {
    const run = { recorded, machine, ...settings, batch: 1, threads: 1, rows };
    writeFileSync(values.json, `${JSON.stringify(run, null, 2)}\n`);
  }
  const load = machine.loadavg.map((l) => l.toFixed(1)).join(' ');
  console.log(
    `batch 1, 1 thread, ${settings.warmup} warm-up + ${settings.runs} interleaved runs; ${machine.cpu} ×${machine.cpus}, load ${load}`,
  );
  console.log(
    formatTable(
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
    ),
  );
}

void runCli(docComment(readFileSync(new URL(import.meta.url), 'utf8')), main);
