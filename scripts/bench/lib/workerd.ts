import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Miniflare, type MiniflareOptions } from 'miniflare';
import { bundleEdgeWorker } from '../../lib/local-edge.js';
import { IsolateMemoryProbe } from './isolate-memory.js';
import { readProcessCpu } from './proc-cpu.js';

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
  log?: (message: string) => void;
}): Promise<MiniflareOptions> {
  options.log?.('bundling the worker (wrangler deploy --dry-run)');
  return bundleEdgeWorker({
    modelsDir: options.modelsDir,
    outDir: options.outDir,
    name: options.name,
    root: options.root,
    buildRoot: path.join(options.outDir, '..', 'build'),
    // No request log line: thousands of them would bury the tables (and the numbers stay comparable with earlier runs).
    vars: { RESULT_CACHE: 'off', REQUEST_LOG: 'off' },
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

/** A fresh workerd process running a bundled worker, as the benchmarks measure it. */
export interface MeasuredWorkerd {
  url: URL;
  /** The one workerd process Miniflare started for it (its /proc entries: memory, CPU). */
  pid: number;
  /** From creating Miniflare until the worker answers. */
  startupMs: number;
  /** Attached through workerd's inspector when asked for (startWorkerd's `probe`). */
  probe?: IsolateMemoryProbe;
  dispose(): Promise<void>;
}

/** Starts `options` in a fresh workerd process; `probe`: the worker name whose isolate memory to sample. */
export async function startWorkerd(options: MiniflareOptions, probe?: string): Promise<MeasuredWorkerd> {
  const before = new Set(workerdDescendants(process.pid));
  const inspectorPort = probe ? await freePort() : undefined;
  const startedAt = performance.now();
  const miniflare = new Miniflare((inspectorPort ? { ...options, inspectorPort } : options) as MiniflareOptions);
  let memory: IsolateMemoryProbe | undefined;
  const dispose = async () => {
    memory?.close();
    await miniflare.dispose();
  };
  try {
    const url = await miniflare.ready;
    const startupMs = performance.now() - startedAt;
    const pids = workerdDescendants(process.pid).filter((pid) => !before.has(pid));
    if (pids.length !== 1) throw new Error(`expected one new workerd process, found ${pids.length}`);
    if (probe && inspectorPort) memory = await IsolateMemoryProbe.connect(inspectorPort, probe);
    return { url, pid: pids[0], startupMs, probe: memory, dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}
