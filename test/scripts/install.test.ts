/**
 * The install is CPU-only with no environment variable, and every install script in the tree is declared: package.json's
 * allowScripts covers each package package-lock.json marks `hasInstallScript` (so a stricter npm default cannot
 * silently skip workerd's or esbuild's), and denies onnxruntime-node's (its script downloads the CUDA provider from
 * NuGet on Linux x64; `npm run install:cuda` runs it on GPU hosts).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as {
  allowScripts: Record<string, boolean>;
  scripts: Record<string, string>;
};
const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean }>;
};

/** node_modules/a/node_modules/@s/b → @s/b */
const nameOf = (key: string) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);

describe('install scripts', () => {
  const withScripts = [
    ...new Set(
      Object.entries(lock.packages)
        .filter(([key, entry]) => key !== '' && entry.hasInstallScript)
        .map(([key]) => nameOf(key)),
    ),
  ].sort();

  it('every package with an install script is approved or denied in allowScripts, and no entry is stale', () => {
    expect(withScripts.length).toBeGreaterThan(0);
    expect(Object.keys(pkg.allowScripts).sort()).toEqual(withScripts);
  });

  it('the runtimes and bundlers run theirs; the CUDA download of onnxruntime-node does not run by default', () => {
    expect(pkg.allowScripts).toMatchObject({ workerd: true, esbuild: true, sharp: true, 'onnxruntime-node': false });
  });

  it('install:cuda runs the onnxruntime-node script with the CUDA 12 provider named', () => {
    expect(pkg.scripts['install:cuda']).toBe(
      'node node_modules/onnxruntime-node/script/install.js --onnxruntime-node-install=cuda12',
    );
  });

  it('no environment variable is needed: CI installs with plain npm ci', () => {
    const ci = readFileSync(path.join(repoRoot, '.ci/run'), 'utf8');
    expect(ci).not.toMatch(/ONNXRUNTIME_NODE_INSTALL/);
    expect(ci).toMatch(/^npm ci --no-audit --no-fund$/m);
  });
});
