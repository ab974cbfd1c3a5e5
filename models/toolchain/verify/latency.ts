/**
 * Warm single-input latency, measured side by side: the sessions take turns run by run, so a noisy machine slows
 * all of them alike, and the result is reported as medians (and ratios to a baseline), never as one-off timings.
 * Besides wall time, each run's process CPU time is recorded: with one inference thread it is the compute time,
 * and on a shared machine it is far less disturbed by other processes than wall time is.
 */
import type { ModelSession } from '../../../worker/core/inference/backend.js';
import type { ImageBatch } from './images.js';

export interface LatencyStats {
  runs: number;
  /** Wall time per run. */
  medianMs: number;
  p10Ms: number;
  p90Ms: number;
  /** Process CPU time (user + system, all threads) per run. */
  cpuMedianMs: number;
}

export interface LatencyOptions {
  /** Untimed runs first (V8/wasm tier-up, allocator warm-up). Default 10. */
  warmup?: number;
  /** Timed runs per session. Default 30. */
  runs?: number;
}

function quantile(sorted: readonly number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

export function latencyStats(wallMs: readonly number[], cpuMs: readonly number[]): LatencyStats {
  const sorted = [...wallMs].sort((a, b) => a - b);
  const cpu = [...cpuMs].sort((a, b) => a - b);
  return {
    runs: sorted.length,
    medianMs: quantile(sorted, 0.5),
    p10Ms: quantile(sorted, 0.1),
    p90Ms: quantile(sorted, 0.9),
    cpuMedianMs: quantile(cpu, 0.5),
  };
}

/** Latency of each session on `input`, interleaved run by run. */
export async function measureLatencies<K extends string>(
  sessions: Readonly<Record<K, ModelSession>>,
  input: ImageBatch,
  options: LatencyOptions = {},
): Promise<Record<K, LatencyStats>> {
  const warmup = options.warmup ?? 10;
  const runs = options.runs ?? 30;
  const names = Object.keys(sessions) as K[];
  const wall = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  const cpu = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < warmup + runs; i++) {
    for (const name of names) {
      const cpuStart = process.cpuUsage();
      const start = performance.now();
      await sessions[name].run(input.data, input.dims);
      const elapsed = performance.now() - start;
      const used = process.cpuUsage(cpuStart);
      if (i >= warmup) {
        wall[name].push(elapsed);
        cpu[name].push((used.user + used.system) / 1000);
      }
    }
  }
  return Object.fromEntries(names.map((n) => [n, latencyStats(wall[n], cpu[n])])) as Record<K, LatencyStats>;
}
