/**
 * `npm run bench:report` (scripts/bench/report.ts) in a real process: the generated tables in docs/performance.md
 * and the SVG charts are what the report makes of docs/bench/data/*.json, so running it changes nothing and no
 * figure there is copied by hand; a figure edited inside a block is named, and the report puts it back.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../helpers/golden.js';

const exec = promisify(execFile);
const DOC = path.join(repoRoot, 'docs/performance.md');
const CHARTS = path.join(repoRoot, 'docs/bench');

async function report(args: string[]) {
  return exec(process.execPath, ['--import', 'tsx', 'scripts/bench/report.ts', ...args], {
    cwd: repoRoot,
    env: { ...process.env, DEBUG: '' },
    timeout: 120_000,
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ ...error }),
  );
}

const scratch = mkdtempSync(path.join(tmpdir(), 'bench-report-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('npm run bench:report', () => {
  it('finds docs/performance.md and its charts up to date with docs/bench/data', { timeout: 120_000 }, async () => {
    const result = await report(['--check']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(readFileSync(DOC, 'utf8')).toMatch(
      /<!-- bench:report edge-latency -->\n\nFrom `docs\/bench\/data\/edge\.json`: `npm run bench:edge/,
    );
  });

  it('names a figure edited by hand, then regenerates it', { timeout: 180_000 }, async () => {
    const doc = path.join(scratch, 'performance.md');
    const charts = path.join(scratch, 'bench');
    mkdirSync(charts);
    for (const file of readdirSync(CHARTS).filter((f) => f.endsWith('.svg')))
      cpSync(path.join(CHARTS, file), path.join(charts, file));
    const original = readFileSync(DOC, 'utf8');
    const start = original.indexOf('<!-- bench:report edge-memory -->');
    const row = original.indexOf('\n| ImageNet', start);
    const edited = `${original.slice(0, row)}\n| ImageNet 500×375 | m0 | 1 | 1 | 1 | 1 | 1 |${original.slice(original.indexOf('\n', row + 1))}`;
    writeFileSync(doc, edited);
    const args = ['--doc', doc, '--charts', charts];

    const stale = await report([...args, '--check']);
    expect(stale.code).toBe(1);
    expect(stale.stderr.trim().split('\n')).toHaveLength(1);
    expect(stale.stderr).toMatch(/^error: out of date, run `npm run bench:report`: .*performance\.md: edge-memory\n$/);

    expect((await report(args)).code).toBe(0);
    expect(readFileSync(doc, 'utf8')).toBe(original);
  });
});
