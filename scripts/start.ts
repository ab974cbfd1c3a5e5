/**
 * `npm start`: build the edge models if the edge's manifest lacks them (see scripts/models.ts for where checkpoints
 * come from), then run the Worker locally in workerd on Miniflare, bundled as `wrangler deploy` bundles it, with
 * wrangler.toml's bindings and vars and `.dev.vars` (scripts/lib/local-edge.ts). `npm run dev:wrangler` is
 * `wrangler dev` (watch mode) for those who want it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CHECKPOINTS_ENV } from '../models/toolchain/checkpoint/sources.js';
import { UsageError } from './lib/node-options.js';
import type { LocalEdge } from './lib/local-edge.js';
import { formatCliError } from './lib/cli.js';

/** scripts/lib/build-cli.ts's printCliError, without importing the toolchain it also holds. */
function printCliError(error: unknown): number {
  console.error(formatCliError(error, [UsageError]));
  return 1;
}

const USAGE = `usage: npm start -- [--port N] [--ip HOST] [--var NAME:VALUE]... [--models DIR]

Runs the edge Worker locally in workerd (Miniflare), as \`wrangler deploy\` bundles it, with wrangler.toml's vars
and bindings and the secrets in .dev.vars. Builds the edge models (M0/M1, fp32 + int8) into models/build/edge first
if they are missing (checkpoints: $${CHECKPOINTS_ENV}, else the official release).

  --port N          port to listen on (default 8787; 0: any free port)
  --ip HOST         address to listen on (default 127.0.0.1)
  --var NAME:VALUE  a var over wrangler.toml's and .dev.vars' (repeatable), e.g. --var DEFAULT_MODEL:m1
  --models DIR      serve this build folder instead (nothing is built)
  --help

\`npm run dev:wrangler\` runs \`wrangler dev\` instead, once \`npm start\` has built the edge models (it rebuilds
on change; its proxy stalls uploads sent with Expect: 100-continue, see docs/contributing.md).`;

interface StartOptions {
  port: number;
  host: string;
  vars: Record<string, string>;
  modelsDir?: string;
}

/** `NAME:VALUE` (wrangler's `--var` syntax; the value may contain colons) → [NAME, VALUE]. */
function parseVar(spec: string): [string, string] {
  const colon = spec.indexOf(':');
  const name = colon > 0 ? spec.slice(0, colon) : '';
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new UsageError(`--var ${spec}: expected NAME:VALUE`);
  return [name, spec.slice(colon + 1)];
}

function parseStartArgs(argv: string[]): StartOptions | 'help' {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '8787' },
      ip: { type: 'string', default: '127.0.0.1' },
      var: { type: 'string', multiple: true, default: [] },
      models: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) throw new UsageError(`--port must be 0–65535, got ${values.port}`);
  return {
    port,
    host: values.ip,
    vars: Object.fromEntries(values.var.map(parseVar)),
    modelsDir: values.models === undefined ? undefined : path.resolve(values.models),
  };
}

async function buildMissingEdgeModels(): Promise<void> {
  const { modelName } = await import('../models/toolchain/build.js');
  const { readManifest } = await import('../models/toolchain/manifest-file.js');
  const { TARGET_VARIANTS, targetDir } = await import('../models/toolchain/targets.js');
  const { runBuild } = await import('./lib/build-cli.js');
  const manifest = await readManifest(targetDir('edge'));
  const built = new Set(manifest?.models.map((m) => m.name));
  const missing = TARGET_VARIANTS.edge.filter(
    (v) => !built.has(modelName(v, 'int8')) || !built.has(modelName(v, 'fp32')),
  );
  if (missing.length === 0) return;
  process.stderr.write(`building ${missing.join(', ')} (fp32 + int8) for the edge\n`);
  await runBuild({
    variants: missing,
    precisions: ['fp32', 'int8'],
    checkpointsDir: process.env[CHECKPOINTS_ENV] || undefined,
  });
}

async function main(): Promise<number | undefined> {
  let options: StartOptions | 'help';
  try {
    options = parseStartArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`error: ${(error as Error).message} (usage: npm start -- --help)`);
    return 2;
  }
  if (options === 'help') return void console.log(USAGE);
  const { port, host, vars } = options;
  // Loaded after the arguments: wrangler and the toolchain take seconds to import, --help should not.
  const { bundleEdgeWorker, startLocalEdge } = await import('./lib/local-edge.js');
  const { targetDir } = await import('../models/toolchain/targets.js');
  const bundleDir = mkdtempSync(path.join(os.tmpdir(), 'efficientvit-start-'));
  process.on('exit', () => rmSync(bundleDir, { recursive: true, force: true }));
  let edge: LocalEdge;
  try {
    if (options.modelsDir === undefined) await buildMissingEdgeModels();
    const modelsDir = options.modelsDir ?? targetDir('edge');
    process.stderr.write('bundling the worker (wrangler deploy --dry-run)\n');
    const workerOptions = await bundleEdgeWorker({
      modelsDir,
      outDir: path.join(bundleDir, 'dist'),
      vars,
      // --models DIR: the page build (wrangler.toml [build]) goes to a scratch folder, not models/build.
      buildRoot: options.modelsDir === undefined ? undefined : path.join(bundleDir, 'build'),
    });
    edge = await startLocalEdge(workerOptions, { host, port, front: true });
    // Miniflare has read the bundle into workerd's config: nothing is left behind however the process ends.
    rmSync(bundleDir, { recursive: true, force: true });
  } catch (error) {
    return printCliError(describeStartError(error, port));
  }
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Importing wrangler installed handlers that exit at once; workerd and the front are closed first instead.
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`${signal}: stopping\n`);
      edge.dispose().finally(() => process.exit(0));
    });
  }
  console.log(`Ready on ${edge.url.origin}`);
  return undefined;
}

/** workerd's bind failure, as one line. */
function describeStartError(error: unknown, port: number): unknown {
  const text = String((error as Error)?.message ?? error);
  if (/address already in use|EADDRINUSE/i.test(text))
    return new UsageError(`port ${port} is already in use (--port N)`);
  return error;
}

main().then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (error: unknown) => process.exit(printCliError(error)),
);
