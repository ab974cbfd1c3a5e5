import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { MiniflareOptions } from 'miniflare';
import { bundleEdgeWorker } from '../../lib/local-edge.js';
import { readProcessCpu } from './proc-cpu.js';

const _MiB = 2 ** 20;

/**
 * The worker bundled as `npm start` bundles it (scripts/lib/local-edge.ts), for measuring: the result cache off, since
 * benchmarks send the same images again and again and must measure the work, not cache hits.
 */
export async function bundleWorker(options: {
  modelsDir: string;
  outDir: string;
  name: string;
  /** The checkout whose worker and wrangler.toml to bundle (default: this one; benchmarks compare another). */
  root?: string;
  /** Another entry than wrangler.toml's `main` (BundleOptions.entry). */
  entry?: string;
  log?: (message: string) => void;
}): Promise<MiniflareOptions> {
  options.log?.(`bundling the worker${options.entry ? ` (${options.entry})` : ''} (wrangler deploy --dry-run)`);
  return bundleEdgeWorker({
    modelsDir: options.modelsDir,
    outDir: options.outDir,
    name: options.name,
    root: options.root,
    entry: options.entry,
    buildRoot: path.join(options.outDir, '..', 'build'),
    vars: { RESULT_CACHE: 'off' },
  });
}

/** The workerd processes below `root` (Miniflare starts one per instance), from /proc (Linux). */
export function workerdDescendants(root: number): number[] {
  const processes = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const match = /^(\d+) \((.*)\) \S+ (\d+)/.exec(readFileSync(`/proc/${entry}/stat`, 'utf8'));
        return match ? [{ pid: Number(match[1]), comm: match[2], ppid: Number(match[3]) }] : [];
      } catch {
        return []; // exited meanwhile
      }
    });
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const child of processes.filter((p) => p.ppid === parent)) {
      if (child.comm === 'workerd') found.push(child.pid);
      queue.push(child.pid);
    }
  }
  return found;
}

/**
 * CPU time (user + system, ms) a workerd process's threads have used so far (proc-cpu.ts): V8's background threads
 * (wasm compilation and tier-up, GC) apart from the rest, where workerd runs the isolate itself.
 */
export function cpuMs(pid: number): { isolate: number; v8Background: number } {
  const total = { isolate: 0, v8Background: 0 };
  for (const thread of readProcessCpu(pid)?.threads ?? []) {
    if (thread.name.startsWith('V8 ')) total.v8Background += thread.cpuS * 1000;
    else total.isolate += thread.cpuS * 1000;
  }
  return total;
}

/** A process's resident (VmRSS) or peak resident (VmHWM) memory, from /proc (Linux). */
export function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} for process ${pid}`);
  return Number(match[1]) / 1024;
}

/** A free TCP port on 127.0.0.1 (free when asked). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
