/**
 * The Workers `Env` is generated from wrangler.toml (`npm run types` → worker/runtimes/workerd/env.d.ts), not written
 * by hand: this regenerates it from the same wrangler.toml, away from any .dev.vars (whose secrets wrangler would
 * add) and without the [build] step, and expects the committed file's declarations.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../../..');
const ENV_FILE = 'worker/runtimes/workerd/env.d.ts';
/** The generated declarations, without wrangler's header (its command line and a hash of the config). */
const declarations = (text: string) =>
  text.split('\n').filter((line) => !line.startsWith('//') && !line.startsWith('/*'));

it('worker/runtimes/workerd/env.d.ts is what `npm run types` generates from wrangler.toml', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'env-types-'));
  try {
    const config = readFileSync(path.join(root, 'wrangler.toml'), 'utf8').replace(/^\[build\][^[]*/m, '');
    writeFileSync(path.join(dir, 'wrangler.toml'), config);
    mkdirSync(path.join(dir, 'models/build/edge'), { recursive: true });
    mkdirSync(path.join(dir, path.dirname(ENV_FILE)), { recursive: true });
    // `main` must exist for wrangler to type the entry's exports (GlobalProps.mainModule).
    writeFileSync(path.join(dir, /^main = "([^"]+)"/m.exec(config)![1]), 'export default {};\n');
    const script = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.types as string;
    const args = script.split(' ').slice(1);
    await promisify(execFile)(process.execPath, [path.join(root, 'node_modules/wrangler/bin/wrangler.js'), ...args], {
      cwd: dir,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false' },
    });
    const generated = readFileSync(path.join(dir, ENV_FILE), 'utf8');
    expect(declarations(readFileSync(path.join(root, ENV_FILE), 'utf8'))).toEqual(declarations(generated));
    expect(generated).toContain('MODELS: Fetcher;');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
