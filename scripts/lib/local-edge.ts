/**
 * The edge Worker run locally: bundled exactly as `wrangler deploy` bundles it, then run in workerd by Miniflare with
 * wrangler.toml's bindings, vars and Static Assets (and `.dev.vars` secrets, read by wrangler's own config reader).
 * Shared by `npm start` (scripts/start.ts) and `npm run bench:edge`. Miniflare rather than `wrangler dev`: no dev
 * proxy between the client and workerd (the proxy stalls `Expect: 100-continue` uploads ~1 s, answers 503 and hangs
 * after an over-limit upload whose client left on the 413, and grows), and one workerd process per instance.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Miniflare, type MiniflareOptions } from 'miniflare';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { readManifest } from '../../models/toolchain/manifest-file.js';
import { ConfigError, type ConfigVars, DEFAULT_CONFIG, parseConfig } from '../../worker/service/config.js';
import { UsageError } from './node-options.js';
import { startContinueFront } from './continue-front.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const WRANGLER_BIN = path.join(REPO_ROOT, 'node_modules/wrangler/bin/wrangler.js');
const MiB = 2 ** 20;

export interface BundleOptions {
  /** The Static Assets folder bound as MODELS (wrangler.toml's [assets], replaced). */
  modelsDir: string;
  /** Where the bundle is written (emptied first). */
  outDir: string;
  /** The worker's name in Miniflare (the inspector lists isolates by it). */
  name?: string;
  /** Vars over wrangler.toml's and `.dev.vars`' (`--var NAME:VALUE`). */
  vars?: Readonly<Record<string, string>>;
  /** The checkout whose worker and wrangler.toml to bundle (default: this one; bench:hostile compares another). */
  root?: string;
  /**
   * EFFICIENTVIT_BUILD_DIR for wrangler.toml's [build] (the demo page build), so that serving another folder never
   * writes into the user's models/build; default: models/build.
   */
  buildRoot?: string;
}

/**
 * Bundles the deployed entry (wrangler.toml `main`) with `wrangler deploy --dry-run --outdir` and returns Miniflare
 * options for it. The session the entry creates at start-up is the served folder's default model
 * (startupModelModule), not whatever models/build/edge holds.
 */
export async function bundleEdgeWorker(options: BundleOptions): Promise<MiniflareOptions> {
  if (!existsSync(path.join(options.modelsDir, 'manifest.json')))
    throw new UsageError(`${options.modelsDir}: no manifest.json (build models with \`npm run models -- build\`)`);
  rmSync(options.outDir, { recursive: true, force: true });
  const root = options.root ?? REPO_ROOT;
  const { workerOptions, main } = readWranglerConfig(root, options.modelsDir);
  const { modulesRules: _rules, bindings, ...rest } = workerOptions;
  const vars = { ...(bindings as Record<string, unknown>), ...options.vars };
  const startupModule = await startupModelModule(options.modelsDir, vars, path.resolve(`${options.outDir}.startup`));
  // `wrangler deploy --alias` does not reach the bundler (wrangler 4.86), wrangler.toml's [alias] does: a copy of the
  // config with one, beside the original so that its relative paths mean the same; one per bundle, so that
  // concurrent bundles (tests, benchmarks) never share it.
  const config = path.join(root, `.wrangler-bundle-${process.pid}-${++bundleCount}.toml`);
  writeFileSync(
    config,
    `${readFileSync(path.join(root, 'wrangler.toml'), 'utf8')}\n# scripts/lib/local-edge.ts: the served folder's start-up model\n` +
      `[alias]\n${JSON.stringify(STARTUP_MODEL_IMPORT)} = ${JSON.stringify(startupModule)}\n`,
  );
  try {
    // --assets: wrangler checks the folder exists, and the one in wrangler.toml need not (tests, --models).
    await promisify(execFile)(
      process.execPath,
      [
        WRANGLER_BIN,
        'deploy',
        '--config',
        config,
        '--dry-run',
        '--outdir',
        options.outDir,
        '--assets',
        options.modelsDir,
      ],
      {
        cwd: root,
        env: {
          ...process.env,
          WRANGLER_SEND_METRICS: 'false',
          ...(options.buildRoot ? { EFFICIENTVIT_BUILD_DIR: options.buildRoot } : {}),
        },
        maxBuffer: 16 * MiB,
      },
    );
  } catch (error) {
    const output = (error as { stderr?: string; stdout?: string }).stderr || (error as { stdout?: string }).stdout;
    throw new Error(`wrangler deploy --dry-run failed:\n${output ?? String(error)}`);
  } finally {
    rmSync(config, { force: true });
  }
  // wrangler names the bundle after the entry: worker/runtimes/workerd/cloudflare.ts → cloudflare.js.
  const bundle = `${path.basename(main ?? 'cloudflare.ts').replace(/\.[cm]?[jt]s$/, '')}.js`;
  // The bundle's modules are listed: Miniflare cannot resolve its wasm and data imports statically.
  const files = readdirSync(options.outDir);
  const modules = [
    { type: 'ESModule' as const, path: path.join(options.outDir, bundle) },
    ...files
      .filter((file) => file.endsWith('.wasm'))
      .map((file) => ({ type: 'CompiledWasm' as const, path: path.join(options.outDir, file) })),
    ...files
      .filter((file) => file.endsWith('.onnx'))
      .map((file) => ({ type: 'Data' as const, path: path.join(options.outDir, file) })),
  ];
  return {
    ...rest,
    name: options.name ?? 'efficientvit-edge',
    bindings: vars,
    modules,
    modulesRoot: options.outDir,
    cf: false,
  } as MiniflareOptions;
}

/**
 * wrangler.toml (of the checkout at `root`) as wrangler reads it, with `modelsDir` as the assets folder: its reader
 * refuses a missing one, and models/build/edge need not exist (a fresh clone, tests serving another folder).
 */
export function readWranglerConfig(
  root: string,
  modelsDir: string,
): ReturnType<typeof unstable_getMiniflareWorkerOptions> {
  return unstable_getMiniflareWorkerOptions(path.join(root, 'wrangler.toml'), undefined, {
    overrides: { assets: { directory: modelsDir } },
  });
}

/** DEFAULT_MODEL as the worker reads it from `vars`; with vars it refuses (it answers every request so), the default. */
export function defaultModelOf(vars: Record<string, unknown>): string {
  try {
    return parseConfig(vars as ConfigVars).defaultModel;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return DEFAULT_CONFIG.defaultModel;
  }
}

/** How worker/runtimes/workerd/cloudflare.ts imports the start-up model (replaced through wrangler's [alias]). */
const STARTUP_MODEL_IMPORT = './startup-model.js';
let bundleCount = 0;

/**
 * Writes, in `dir`, the module that stands in for worker/runtimes/workerd/startup-model.ts: the served folder's DEFAULT_MODEL
 * file as a Data module, or no bytes (no start-up session) when the folder has no such model.
 */
async function startupModelModule(modelsDir: string, vars: Record<string, unknown>, dir: string): Promise<string> {
  const defaultModel = defaultModelOf(vars);
  // An invalid manifest is the worker's to report (503 model-unavailable); start-up then creates nothing.
  const manifest = await readManifest(modelsDir).catch(() => undefined);
  const entry = manifest?.models.find((model) => model.name === defaultModel);
  const file = entry && existsSync(path.join(modelsDir, entry.file)) ? entry.file : undefined;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const module = path.join(dir, 'startup-model.js');
  writeFileSync(
    module,
    file
      ? `export { default } from ${JSON.stringify(path.resolve(modelsDir, file))};\n`
      : 'export default new ArrayBuffer(0);\n',
  );
  return module;
}

export interface LocalEdge {
  url: URL;
  miniflare: Miniflare;
  dispose(): Promise<void>;
}

/**
 * Starts one workerd process serving the bundle on host:port (port 0: any free one). `front`: listen through
 * scripts/lib/continue-front.ts (workerd itself on a loopback port), which answers `Expect: 100-continue`.
 */
export async function startLocalEdge(
  options: MiniflareOptions,
  listen: { host?: string; port?: number; inspectorPort?: number; front?: boolean } = {},
): Promise<LocalEdge> {
  const host = listen.host ?? '127.0.0.1';
  const miniflare = new Miniflare({
    ...options,
    host: listen.front ? '127.0.0.1' : host,
    port: listen.front ? 0 : (listen.port ?? 0),
    inspectorPort: listen.inspectorPort,
  } as MiniflareOptions);
  try {
    const workerd = await miniflare.ready;
    if (!listen.front) return { url: workerd, miniflare, dispose: () => miniflare.dispose() };
    const maxBodyBytes = bodyLimit((options as { bindings?: ConfigVars }).bindings ?? {});
    const front = await startContinueFront(workerd, { host, port: listen.port ?? 0, maxBodyBytes });
    return {
      url: front.url,
      miniflare,
      dispose: async () => {
        await front.close();
        await miniflare.dispose();
      },
    };
  } catch (error) {
    await miniflare.dispose().catch(() => undefined);
    throw error;
  }
}

/** The worker's MAX_BODY_BYTES as it parses it; with a bad config the worker refuses every request anyway. */
function bodyLimit(vars: ConfigVars): number {
  try {
    return parseConfig(vars).maxBodyBytes;
  } catch (error) {
    if (error instanceof ConfigError) return DEFAULT_CONFIG.maxBodyBytes;
    throw error;
  }
}
