/**
 * Every CLI as a user runs it, in a real process: `--help` prints its usage and exits 0; mistakes are one `error:`
 * line (2 for how the command was called, 1 for the input), a stack only with DEBUG=1. Also the build's promise
 * that a missing checkpoint stops it before anything is written, and the deploy's refusal of synthetic fixtures.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OFFICIAL_CHECKPOINT_URLS } from '../../models/efficientvit.js';
import type { Manifest } from '../../worker/core/manifest/manifest.js';
import { buildModels } from '../../models/toolchain/build.js';
import { checkpointsDir, repoRoot } from '../helpers/golden.js';
import { nodeToolchainHost } from '../../scripts/lib/node-host.js';

const exec = promisify(execFile);

async function cli(script: string, args: string[], env: Record<string, string> = {}) {
  return exec(process.execPath, ['--import', 'tsx', path.join(repoRoot, script), ...args], {
    cwd: repoRoot,
    env: { ...process.env, DEBUG: '', ...env },
    timeout: 60_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ ...error }),
  );
}

/** The one line a mistake is reported as. */
function errorLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  return lines[0];
}

const BENCHMARKS = [
  'checkpoint',
  'decode-memory',
  'edge',
  'heads',
  'hostile',
  'models',
  'node',
  'report',
  'soak',
  'start',
  'train',
];

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(path.join(tmpdir(), 'cli-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('--help: usage on stdout, exit 0, nothing run', () => {
  it.each([
    ['scripts/models.ts', /^usage:\n {2}npm run models -- build/],
    ['scripts/eval.ts', /^usage: npm run eval -- --images DIR/],
    ['scripts/deploy.ts', /^usage: npm run deploy -- \[--dry-run\]/],
    ['scripts/start-node.ts', /^usage: npm run start:node -- \[options\]/],
  ])('%s', async (script, usage) => {
    const result = await cli(script, ['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(usage);
    expect(result.stderr).toBe('');
  });

  it.each(BENCHMARKS)('scripts/bench/%s.ts', async (name) => {
    const result = await cli(`scripts/bench/${name}.ts`, ['--help']);
    expect(result.code).toBe(0);
    // The usage is the file's doc comment, which names how it is run.
    expect(result.stdout).toMatch(new RegExp(`bench:${name}|scripts/bench/${name}\\.ts`));
  });
});

describe('usage errors: one line, exit 2', () => {
  it.each([
    ['scripts/models.ts', [], /^error: no command \(build, convert, verify or train\)/],
    ['scripts/models.ts', ['build', '--variants', 'm9'], /^error: unknown variant m9/],
    ['scripts/models.ts', ['build', '--frobnicate'], /^error: Unknown option '--frobnicate'/],
    ['scripts/models.ts', ['convert', '--variant', 'm0'], /^error: convert needs --checkpoint, --variant and --out/],
    ['scripts/eval.ts', [], /^error: --images DIR is required/],
    ['scripts/eval.ts', ['--images', 'x', '--limit', '-1'], /^error: Option '--limit' argument is ambiguous/],
    ['scripts/start-node.ts', ['--port', 'x'], /^error: --port must be an integer from 0 to 65535/],
    ['scripts/start-node.ts', ['--device', 'tpu'], /^error: --device must be one of cpu, cuda, auto/],
  ])('%s %j', async (script, args, message) => {
    const result = await cli(script, args);
    expect(result.code).toBe(2);
    expect(errorLine(result.stderr)).toMatch(message);
  });
});

describe('user errors: one line, exit 1; the stack with DEBUG=1', () => {
  it('a missing checkpoint file', async () => {
    const args = ['convert', '--checkpoint', path.join(scratch, 'nope.pth'), '--variant', 'm0', '--out', 'x.onnx'];
    const result = await cli('scripts/models.ts', args);
    expect(result.code).toBe(1);
    expect(errorLine(result.stderr)).toMatch(/^error: ENOENT: no such file or directory, open '.*nope\.pth'/);

    const debug = await cli('scripts/models.ts', args, { DEBUG: '1' });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/ENOENT[\s\S]*\n\s+at /);
  });

  it('a file that is not a checkpoint', async () => {
    const file = path.join(scratch, 'efficientvit_m0.pth');
    writeFileSync(file, 'not a checkpoint\n');
    const result = await cli('scripts/models.ts', ['convert', '--checkpoint', file, '--variant', 'm0', '--out', 'x']);
    expect(result.code).toBe(1);
    expect(errorLine(result.stderr)).toContain(file);
  });

  it('eval without a build', async () => {
    const result = await cli('scripts/eval.ts', ['--images', scratch, '--out', scratch]);
    expect(result.code).toBe(1);
    expect(errorLine(result.stderr)).toBe(
      `error: ${scratch}/manifest.json not found: run \`npm run models -- build\` first`,
    );
  });
});

describe('models build --variants m0,m2', () => {
  it('finds every checkpoint before converting anything: a missing m2 leaves no file behind', async () => {
    const checkpoints = mkdtempSync(path.join(scratch, 'only-m0-'));
    copyFileSync(
      path.join(checkpointsDir, 'efficientvit_m0.synthetic.pth'),
      path.join(checkpoints, 'efficientvit_m0.pth'),
    );
    const out = mkdtempSync(path.join(scratch, 'out-'));
    const result = await cli('scripts/models.ts', [
      'build',
      '--variants',
      'm0,m2',
      '--checkpoints',
      checkpoints,
      '--out',
      out,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^\[m0\] checkpoint\n\[m2\] checkpoint\n/);
    expect(result.stderr).not.toMatch(/export/);
    expect(errorLine(result.stderr.replace(/^\[.*\n/gm, ''))).toMatch(/^error: no checkpoint for m2 in /);
    expect(readdirSync(out)).toEqual([]);
  });

  it('a wrong-variant checkpoint for m2 also stops it before any conversion', async () => {
    const checkpoints = mkdtempSync(path.join(scratch, 'wrong-m2-'));
    copyFileSync(
      path.join(checkpointsDir, 'efficientvit_m0.synthetic.pth'),
      path.join(checkpoints, 'efficientvit_m0.pth'),
    );
    copyFileSync(
      path.join(checkpointsDir, 'efficientvit_m1.synthetic.pth'),
      path.join(checkpoints, 'efficientvit_m2.pth'),
    );
    const out = mkdtempSync(path.join(scratch, 'out-'));
    await expect(
      buildModels({
        host: nodeToolchainHost,
        variants: ['m0', 'm2'],
        precisions: ['fp32'],
        outDir: out,
        checkpointsDir: checkpoints,
      }),
    ).rejects.toThrow(/m2/);
    expect(readdirSync(out)).toEqual([]);
  });

  it('offline: fails at once with every URL to fetch and where each file goes, and writes nothing', async () => {
    // A port nothing listens on: connection refused, as with no network.
    const closed = await import('node:net').then(({ createServer }) => {
      const server = createServer();
      return new Promise<number>((resolve) =>
        server.listen(0, '127.0.0.1', () => {
          const { port } = server.address() as { port: number };
          server.close(() => resolve(port));
        }),
      );
    });
    const cacheDir = path.join(scratch, 'cache');
    const out = mkdtempSync(path.join(scratch, 'out-'));
    const url = (variant: string) => `http://127.0.0.1:${closed}/v1.0/efficientvit_${variant}.pth`;
    const error: Error = await buildModels({
      host: nodeToolchainHost,
      variants: ['m0', 'm2'],
      precisions: ['fp32', 'int8'],
      outDir: out,
      cacheDir,
      checkpointUrl: url,
    }).then(
      () => new Error('built'),
      (e: Error) => e,
    );
    expect(error.message).toMatch(/^Cannot reach 127\.0\.0\.1:\d+ \(ECONNREFUSED\)\. Fetch on a machine with network/);
    for (const variant of ['m0', 'm2']) {
      expect(error.message).toContain(`  ${url(variant)}\n    → ${path.join(cacheDir, `efficientvit_${variant}.pth`)}`);
    }
    expect(error.message).toContain('--checkpoints DIR');
    expect(readdirSync(out)).toEqual([]);
  });
});

describe('npm run deploy -- --dry-run', () => {
  let edge: string;
  beforeAll(async () => {
    edge = mkdtempSync(path.join(scratch, 'edge-'));
    await buildModels({
      host: nodeToolchainHost,
      variants: ['m0'],
      precisions: ['int8'],
      outDir: edge,
      checkpointsDir,
    });
  });

  it('refuses models built from the synthetic fixtures', async () => {
    const result = await cli('scripts/deploy.ts', ['--dry-run', '--models', edge]);
    expect(result.code).toBe(1);
    expect(errorLine(result.stderr)).toMatch(/^error: m0 in .* come from synthetic test fixtures .* or pass --force$/);
  });

  it('--force deploys them anyway, with a warning', async () => {
    const result = await cli('scripts/deploy.ts', ['--dry-run', '--force', '--models', edge, '--', '--env', 'staging']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('warning: deploying synthetic fixtures (--force)');
    expect(result.stdout).toContain('dry run: would run npx wrangler deploy --env staging');
  });

  it('accepts models converted from the official checkpoints', async () => {
    const file = path.join(edge, 'manifest.json');
    const manifest: Manifest = JSON.parse(readFileSync(file, 'utf8'));
    for (const model of manifest.models) model.source.checkpoint = OFFICIAL_CHECKPOINT_URLS.m0;
    writeFileSync(file, JSON.stringify(manifest));
    const result = await cli('scripts/deploy.ts', ['--dry-run', '--models', edge]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^m0 +efficientvit_m0\.int8\.onnx [\d.]+ MB ← https:\/\//);
    expect(result.stdout).toContain('start-up session: m0 (efficientvit_m0.int8.onnx, bundled)');
    expect(result.stdout).not.toContain('warning');
  });

  it('warns when the start-up session would be for another file than DEFAULT_MODEL', async () => {
    const file = path.join(edge, 'manifest.json');
    const manifest: Manifest = JSON.parse(readFileSync(file, 'utf8'));
    const renamed = { ...manifest, models: manifest.models.map((m) => ({ ...m, file: 'renamed.onnx' })) };
    const other = mkdtempSync(path.join(scratch, 'edge-renamed-'));
    writeFileSync(path.join(other, 'manifest.json'), JSON.stringify(renamed));
    writeFileSync(path.join(other, 'renamed.onnx'), readFileSync(path.join(edge, manifest.models[0].file)));
    const result = await cli('scripts/deploy.ts', ['--dry-run', '--force', '--models', other]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /warning: worker\/runtimes\/workerd\/startup-model\.ts bundles .*efficientvit_m0\.int8\.onnx, but DEFAULT_MODEL m0 is renamed\.onnx/,
    );
  });

  it('no build at all', async () => {
    const result = await cli('scripts/deploy.ts', ['--dry-run', '--models', path.join(scratch, 'none')]);
    expect(result.code).toBe(1);
    expect(errorLine(result.stderr)).toMatch(/manifest\.json lists no models: build them first/);
  });
});
