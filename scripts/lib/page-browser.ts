/**
 * What drives the demo page in a real browser, shared by `npm run screenshot` and test/page/page-browser.test.ts:
 * Debian's Chromium through playwright-core, and the Worker bundled as for deployment, in workerd (Miniflare).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { bundleEdgeWorker, startLocalEdge } from './local-edge.js';

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
 * The Worker as `wrangler deploy` bundles it, in workerd with wrangler.toml's bindings, MODELS pointing at
 * `modelsDir` (scripts/lib/local-edge.ts, as `npm start` and scripts/bench/edge.ts run it).
 */
export async function startBundledWorker(options: {
  modelsDir: string;
  workDir: string;
  bindings?: Record<string, string>;
}): Promise<BundledWorker> {
  const edge = await startLocalEdge(
    await bundleEdgeWorker({
      modelsDir: options.modelsDir,
      outDir: path.join(options.workDir, 'dist'),
      vars: options.bindings,
      // wrangler.toml's [build] rebuilds the page: into workDir, not the user's models/build.
      buildRoot: options.workDir,
    }),
  );
  return { url: edge.url.origin, dispose: () => edge.dispose() };
}
