/**
 * The GPU image's Dockerfile against the tree (no Docker engine here, so nothing else builds it): every path it
 * copies exists and is not excluded by .dockerignore, its RUN steps are scripts/gpu-check.sh's steps (the script GPU
 * hosts run, so the image and the script cannot drift apart), and the linter (`dockerfile-utils lint`, part of
 * `npm run lint`) accepts it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');

interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions: comments dropped, backslash continuations joined. */
function instructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

const dockerfile = instructions(read('Dockerfile'));
const gpuCheck = read('scripts/gpu-check.sh');
const ignored = read('.dockerignore')
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'));

describe('Dockerfile', () => {
  it('every COPY source from the build context exists in the tree and is not in .dockerignore', () => {
    const copies = dockerfile.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'));
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      const sources = copy.args
        .split(/\s+/)
        .filter((arg) => !arg.startsWith('--'))
        .slice(0, -1);
      expect(sources.length, copy.args).toBeGreaterThan(0);
      for (const source of sources) {
        expect(existsSync(path.join(repoRoot, source)), `COPY ${source}`).toBe(true);
        const top = source.replace(/^\.\//, '').split('/')[0];
        expect(ignored, `COPY ${source} is excluded by .dockerignore`).not.toContain(top);
      }
    }
  });

  it("its RUN steps are gpu-check.sh's steps, which install with npm ci and npm run install:cuda", () => {
    const runs = dockerfile.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    // The first RUN only links npm and installs CA certificates into the CUDA base image.
    const [setup, ...steps] = runs;
    expect(setup).toMatch(/^ln -s .*npm-cli\.js/);
    const defined = new Set([...gpuCheck.matchAll(/^if wants (\w+); then$/gm)].map((m) => m[1]));
    const used = steps.flatMap((step) => {
      expect(step).toMatch(/STEPS=\S+ .*scripts\/gpu-check\.sh/);
      return [...step.matchAll(/STEPS=(\S+)/g)].flatMap((m) => m[1].split(','));
    });
    expect(used).toEqual(['install', 'models']);
    for (const step of used) expect(defined, `gpu-check.sh has no "${step}" step`).toContain(step);
    // The script the image runs is copied before its install step.
    const order = dockerfile.map((i) => `${i.keyword} ${i.args}`);
    const copied = order.indexOf('COPY scripts/gpu-check.sh scripts/gpu-check.sh');
    const install = order.findIndex((line) => line.includes('STEPS=install'));
    expect(copied).toBeGreaterThanOrEqual(0);
    expect(copied).toBeLessThan(install);
    const installStep = gpuCheck.slice(gpuCheck.indexOf('if wants install'), gpuCheck.indexOf('if wants models'));
    expect(installStep).toMatch(/^\s+npm ci --no-audit --no-fund$/m);
    expect(installStep).toMatch(/^\s+npm run install:cuda$/m);
    expect(JSON.parse(read('package.json')).scripts['install:cuda']).toBeDefined();
  });

  it('passes the linter (dockerfile-utils lint), which reports errors with exit 1', () => {
    const bin = path.join(repoRoot, 'node_modules/.bin/dockerfile-utils');
    const run = spawnSync(bin, ['lint', path.join(repoRoot, 'Dockerfile')], { encoding: 'utf8' });
    expect({ status: run.status, output: run.stdout + run.stderr }).toEqual({ status: 0, output: '' });
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dockerfile-lint-'));
    const brokenFile = path.join(dir, 'Dockerfile');
    writeFileSync(brokenFile, 'FROM node:20\nCOPY only-one\n');
    const broken = spawnSync(bin, ['lint', brokenFile], { encoding: 'utf8' });
    rmSync(dir, { recursive: true, force: true });
    expect(broken.status).toBe(1);
    expect(broken.stdout).toContain('COPY requires at least two arguments');
  });
});
