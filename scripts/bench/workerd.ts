/**
 * The Worker in real workerd for benchmarks (bench:edge, bench:hostile, bench:soak): bundled as `wrangler deploy`
 * bundles it, run by Miniflare, its processes' memory read from /proc.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { MiniflareOptions } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 2 ** 20;

/**
 * Bundles the worker exactly as `wrangler deploy` would (into `outDir`) and returns Miniflare options for it: the
 * bundle, wrangler.toml's bindings and vars, the Static Assets binding MODELS pointing at `modelsDir`.
 */
export async function bundleWorker(options: {
  modelsDir: string;
  outDir: string;
  name: string;
  /** The checkout whose worker and wrangler.toml to bundle (default: this one; benchmarks compare another). */
  root?: string;
  log?: (message: string) => void;
}): Promise<MiniflareOptions> {
  const { modelsDir, outDir, name, root = repoRoot } = options;
  rmSync(outDir, { recursive: true, force: true });
  options.log?.('bundling the worker (wrangler deploy --dry-run)');
  await promisify(execFile)('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outDir], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    maxBuffer: 16 * MiB,
  });
  const config = path.join(root, 'wrangler.toml');
  const { workerOptions, main } = unstable_getMiniflareWorkerOptions(config, undefined, {
    overrides: { assets: { directory: modelsDir } },
  });
  // wrangler names the bundle after the entry: worker/entries/workerd.ts → workerd.js.
  const bundle = `${path.basename(main ?? 'workerd.ts').replace(/\.[cm]?[jt]s$/, '')}.js`;
  // The bundle's modules must be listed (its wasm imports are not resolvable statically by Miniflare).
  const { modulesRules: _rules, ...rest } = workerOptions;
  const modules = [
    { type: 'ESModule' as const, path: path.join(outDir, bundle) },
    ...readdirSync(outDir)
      .filter((file) => file.endsWith('.wasm'))
      .map((file) => ({ type: 'CompiledWasm' as const, path: path.join(outDir, file) })),
  ];
  return { ...rest, name, modules, modulesRoot: outDir, cf: false } as MiniflareOptions;
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
