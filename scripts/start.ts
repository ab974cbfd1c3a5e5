/**
 * `npm start`: build the edge models if the manifest lacks them (see scripts/models.ts for where checkpoints come
 * from), then run the Worker locally with `wrangler dev` (workerd) on :8787. Extra arguments go to wrangler.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import type { Variant } from '../models/manifest.js';
import { modelName } from '../models/toolchain/build.js';
import { CHECKPOINTS_ENV } from '../models/toolchain/checkpoint/sources.js';
import { readManifest } from '../models/toolchain/manifest-file.js';
import { DEFAULT_MODELS_DIR, runBuild } from './models.js';

const EDGE_VARIANTS: readonly Variant[] = ['m0', 'm1'];

const manifest = await readManifest(DEFAULT_MODELS_DIR);
const built = new Set(manifest?.models.map((m) => m.name));
const missing = EDGE_VARIANTS.filter((v) => !built.has(modelName(v, 'int8')) || !built.has(modelName(v, 'fp32')));
if (missing.length > 0) {
  process.stderr.write(`building ${missing.join(', ')} (fp32 + int8) into ${path.relative(process.cwd(), DEFAULT_MODELS_DIR)}/\n`);
  try {
    await runBuild({
      variants: missing,
      precisions: ['fp32', 'int8'],
      outDir: DEFAULT_MODELS_DIR,
      checkpointsDir: process.env[CHECKPOINTS_ENV] || undefined,
    });
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    process.exit(1);
  }
}

const wrangler = spawn('npx', ['wrangler', 'dev', '--port', '8787', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { WRANGLER_SEND_METRICS: 'false', ...process.env },
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => wrangler.kill(signal));
wrangler.on('exit', (code) => process.exit(code ?? 0));
