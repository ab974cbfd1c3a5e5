/**
 * `npm start`: build the edge models if the edge's manifest lacks them (see scripts/models.ts for where checkpoints
 * come from), then run the Worker locally with `wrangler dev` (workerd) on :8787, serving models/build/edge.
 * Extra arguments go to wrangler (`npm start -- --port 8795`).
 */
import { spawn } from 'node:child_process';
import { modelName } from '../models/toolchain/build.js';
import { CHECKPOINTS_ENV } from '../models/toolchain/checkpoint/sources.js';
import { readManifest } from '../models/toolchain/manifest-file.js';
import { TARGET_VARIANTS, targetDir } from '../models/toolchain/targets.js';
import { printCliError, runBuild } from './cli.js';

const DEFAULT_PORT = '8787';
const args = process.argv.slice(2);

const manifest = await readManifest(targetDir('edge'));
const built = new Set(manifest?.models.map((m) => m.name));
const missing = TARGET_VARIANTS.edge.filter(
  (v) => !built.has(modelName(v, 'int8')) || !built.has(modelName(v, 'fp32')),
);
if (missing.length > 0) {
  process.stderr.write(`building ${missing.join(', ')} (fp32 + int8) for the edge\n`);
  try {
    await runBuild({
      variants: missing,
      precisions: ['fp32', 'int8'],
      checkpointsDir: process.env[CHECKPOINTS_ENV] || undefined,
    });
  } catch (error) {
    process.exit(printCliError(error));
  }
}

// wrangler exits when given --port twice, so the default is added only when the user gave none.
const portGiven = args.some((arg) => arg === '--port' || arg.startsWith('--port='));
const wrangler = spawn('npx', ['wrangler', 'dev', ...(portGiven ? [] : ['--port', DEFAULT_PORT]), ...args], {
  stdio: 'inherit',
  env: { WRANGLER_SEND_METRICS: 'false', ...process.env },
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => wrangler.kill(signal));
wrangler.on('exit', (code) => process.exit(code ?? 0));
