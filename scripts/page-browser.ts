/**
 * What drives the demo page in a real browser, shared by `npm run screenshot` and test/node/page-browser.test.ts:
 * Debian's Chromium through playwright-core, and the Worker bundled as for deployment, in workerd (Miniflare).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Miniflare, type MiniflareOptions } from 'miniflare';
import { chromium, type Browser } from 'playwright-core';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';

const repoRoot = path.resolve(import.meta.dirname, '..');

/** Debian's package; CHROMIUM_PATH overrides. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `no Chromium at ${CHROMIUM_PATH}: install Debian's (apt-get install -y chromium) or set CHROMIUM_PATH`,
    );
  }
  // --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: ['--no-sandbox'] });
}

export interface BundledWorker {
  url: string;
  dispose(): Promise<void>;
}

/**
 * The Worker as `wrangler deploy` bundles it (`--dry-run --outdir`), run by Miniflare in workerd with wrangler.toml's
 * bindings, MODELS pointing at `modelsDir` (as scripts/bench/edge.ts runs it).
 */
export async function startBundledWorker(options: {
  modelsDir: string;
  workDir: string;
  bindings?: Record<string, string>;
}): Promise<BundledWorker> {
  const outDir = path.join(options.workDir, 'dist');
  await rm(outDir, { recursive: true, force: true });
  await promisify(execFile)('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outDir], {
    cwd: repoRoot,
    // wrangler.toml's [build] rebuilds the page: into workDir, not the user's models/build.
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', EFFICIENTVIT_BUILD_DIR: options.workDir },
    maxBuffer: 16 * 1024 * 1024,
  });
  const { workerOptions, main } = unstable_getMiniflareWorkerOptions(path.join(repoRoot, 'wrangler.toml'), undefined, {
    overrides: { assets: { directory: options.modelsDir } },
  });
  const bundle = `${path.basename(main ?? 'workerd.ts').replace(/\.[cm]?[jt]s$/, '')}.js`;
  const { modulesRules: _rules, bindings, ...rest } = workerOptions;
  const modules = [
    { type: 'ESModule' as const, path: path.join(outDir, bundle) },
    ...readdirSync(outDir)
      .filter((file) => file.endsWith('.wasm'))
      .map((file) => ({ type: 'CompiledWasm' as const, path: path.join(outDir, file) })),
  ];
  const miniflare = new Miniflare({
    ...rest,
    bindings: { ...bindings, ...options.bindings },
    modules,
    modulesRoot: outDir,
    cf: false,
    port: 0,
  } as MiniflareOptions);
  const url = (await miniflare.ready).toString().replace(/\/$/, '');
  return { url, dispose: () => miniflare.dispose() };
}
