/**
 * `npm run deploy`: `wrangler deploy` of the Worker and its models (docs/deploy.md), after checking what would
 * go out. It refuses a build whose models come from the synthetic test fixtures (their predictions mean nothing)
 * unless --force, and files over Cloudflare's per-asset limit always.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isSyntheticSource } from '../worker/core/manifest/manifest.js';
import { readManifest } from '../models/toolchain/manifest-file.js';
import { EDGE_ASSET_LIMIT_BYTES, targetDir } from '../models/toolchain/targets.js';
import { runCli, UserError } from './lib/build-cli.js';
import { defaultModelOf, readWranglerConfig, REPO_ROOT } from './lib/local-edge.js';

/**
 * The file worker/runtimes/workerd/startup-model.ts bundles for the start-up session, against DEFAULT_MODEL's file: a
 * mismatch is not wrong (the session is then not adopted) but spends start-up time for nothing, so say so.
 */
function startupModelLine(dir: string, manifestModels: { name: string; file: string }[]): string {
  const source = readFileSync(path.join(REPO_ROOT, 'worker/runtimes/workerd/startup-model.ts'), 'utf8');
  const bundled = /from '([^']+\.onnx)'/.exec(source)?.[1];
  const { workerOptions } = readWranglerConfig(REPO_ROOT, dir);
  const defaultModel = defaultModelOf((workerOptions.bindings ?? {}) as Record<string, unknown>);
  const file = manifestModels.find((model) => model.name === defaultModel)?.file;
  if (bundled && file && path.basename(bundled) === file) return `start-up session: ${defaultModel} (${file}, bundled)`;
  return (
    `warning: worker/runtimes/workerd/startup-model.ts bundles ${bundled ?? 'no model'}, but DEFAULT_MODEL ${defaultModel} ` +
    `is ${file ?? 'not in the manifest'}: point it at DEFAULT_MODEL's file, or the start-up session is wasted`
  );
}

const USAGE = `usage: npm run deploy -- [--dry-run] [--force] [--models DIR] [-- WRANGLER_ARGS…]

  --dry-run     check the build and print the wrangler command, deploy nothing (no network)
  --force       deploy even models built from the synthetic test fixtures
  --models DIR  the Worker's assets folder (default models/build/edge, as wrangler.toml says)
  -- …          passed to \`wrangler deploy\` (e.g. -- --env staging)

Build with the real checkpoints first: \`npm run models -- build\` (docs/deploy.md).`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'dry-run': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      models: { type: 'string' },
    },
  });
  const dir = path.resolve(values.models ?? targetDir('edge'));
  const manifest = await readManifest(dir);
  if (!manifest || manifest.models.length === 0)
    throw new UserError(`${dir}/manifest.json lists no models: build them first (\`npm run models -- build\`)`);

  const synthetic = manifest.models.filter((model) => isSyntheticSource(model.source));
  if (synthetic.length > 0 && !values.force) {
    throw new UserError(
      `${synthetic.map((m) => m.name).join(', ')} in ${dir} come from synthetic test fixtures ` +
        `(${synthetic[0].source.checkpoint}): their predictions mean nothing. Build from the official checkpoints ` +
        '(`npm run models -- build`, docs/deploy.md) or pass --force',
    );
  }
  for (const model of manifest.models) {
    const { size } = await stat(path.join(dir, model.file)).catch(() => {
      throw new UserError(`${model.file}, listed in ${dir}/manifest.json, is missing: rebuild the models`);
    });
    if (size > EDGE_ASSET_LIMIT_BYTES)
      throw new UserError(`${model.file} is ${(size / 2 ** 20).toFixed(1)} MiB, over Cloudflare's 25 MiB per asset`);
  }

  // A trained head ships as its head file and label set beside its base.
  for (const head of manifest.heads ?? [])
    for (const file of [head.file, `${head.labels}.labels.json`])
      await stat(path.join(dir, file)).catch(() => {
        throw new UserError(`${file}, of head ${head.name} in ${dir}/manifest.json, is missing: train it again`);
      });

  const command = ['wrangler', 'deploy', ...positionals];
  for (const model of manifest.models)
    console.log(
      `${model.name.padEnd(8)} ${model.file} ${(model.bytes / 1e6).toFixed(2)} MB ← ${model.source.checkpoint}`,
    );
  for (const head of manifest.heads ?? [])
    console.log(`${head.name.padEnd(8)} ${head.file}: ${head.classes} labels on ${head.base}`);
  console.log(startupModelLine(dir, manifest.models));
  if (synthetic.length > 0) console.log('warning: deploying synthetic fixtures (--force)');
  if (values['dry-run']) {
    console.log(`dry run: would run npx ${command.join(' ')}`);
    return 0;
  }
  // wrangler runs [build] (the demo page) and uploads the script and the assets folder named in wrangler.toml.
  const result = spawnSync('npx', command, { stdio: 'inherit' });
  return result.status ?? 1;
}

void runCli(USAGE, main);
