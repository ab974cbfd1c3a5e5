/**
 * `npm run models -- train` as a user runs it, on Fashion-MNIST (../shared/images/fashion-mnist): train/ to train on,
 * test/ held out. From an empty build folder (--checkpoints builds the base first) to a head in both targets'
 * manifests; every number checked here is one the run produced. The synthetic backbone's random features are weak,
 * so this asserts the pipeline (above chance, numbers consistent with each other), not a tuned score.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeadReport } from '../../models/toolchain/labels/report.js';
import type { Manifest } from '../../worker/core/manifest/manifest.js';
import { checkpointsDir, repoRoot, sharedDir } from '../helpers/golden.js';

const exec = promisify(execFile);
const FASHION = path.join(sharedDir, 'images/fashion-mnist');

function models(args: string[], buildDir: string) {
  return exec(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts/models.ts'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, EFFICIENTVIT_BUILD_DIR: buildDir, EFFICIENTVIT_CHECKPOINTS: '' },
    maxBuffer: 64 * 1024 * 1024,
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describe('models train on Fashion-MNIST', () => {
  let build: string;
  let report: HeadReport;
  const args = [
    'train',
    '--base',
    'm0',
    '--images',
    path.join(FASHION, 'train'),
    '--test',
    path.join(FASHION, 'test'),
    '--name',
    'fashion',
    '--checkpoints',
    checkpointsDir,
    '--json',
  ];

  beforeAll(async () => {
    build = mkdtempSync(path.join(tmpdir(), 'models-train-'));
    const run = await models(args, build);
    expect(run.code, run.stderr).toBe(0);
    report = JSON.parse(run.stdout);
  }, 600_000);
  afterAll(() => rmSync(build, { recursive: true, force: true }));

  it('measures the held-out test images, above chance, with the raw-pixel baseline beside it', () => {
    expect(report.images.total).toBe(400);
    expect(report.test!.images).toBe(200);
    expect(report.test!.accuracy).toBeGreaterThan(0.1 + 0.1);
    expect(report.baseline!.testAccuracy).toBeGreaterThan(0.1);
    expect(report.baseline!.validationAccuracy).toBeGreaterThan(0);
  });

  it("the report's numbers agree with each other", () => {
    const test = report.test!;
    const correct = test.predictions.filter((p) => p.label === p.predicted).length;
    expect(test.accuracy).toBe(correct / 200);
    expect(test.confusion.flat().reduce((a, b) => a + b, 0)).toBe(200);
    expect(test.confusion.reduce((sum, row, i) => sum + row[i], 0)).toBe(correct);
    expect(test.top5!).toBeGreaterThanOrEqual(test.accuracy);
    for (const [i, label] of test.perLabel.entries()) {
      expect(label.support).toBe(20);
      expect(label.recall).toBe(test.confusion[i][i] / 20);
    }
    expect(test.ece).toBeGreaterThanOrEqual(0);
    expect(test.ece).toBeLessThanOrEqual(1);
    expect(report.temperature).toBeGreaterThan(0);
    expect(report.grid.map((g) => g.decay)).toContain(report.decay);
  });

  it('writes the head beside M0 in both targets, the manifest summarising the report', () => {
    for (const target of ['node', 'edge']) {
      const dir = path.join(build, target);
      const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
      const head = manifest.heads!.find((h) => h.name === 'fashion')!;
      expect(head).toMatchObject({ base: 'm0', classes: 10, dims: 192 });
      expect(head.report).toMatchObject({ heldOutAccuracy: report.test!.accuracy, images: 400, labels: 10 });
      expect(readFileSync(path.join(dir, 'fashion.confusion.svg'), 'utf8')).toMatch(/^<svg/);
      expect(readFileSync(path.join(dir, 'fashion.report.txt'), 'utf8')).toMatch(/test \(held out\)\s+200/);
    }
  });

  it('a second run under the same name is refused in one line; --help names train', async () => {
    const again = await models(args, build);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toMatch(/^error: a head named fashion exists in .*--replace$/);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    const missing = await models(['train', '--images', FASHION], build);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('error: train needs --images DIR and --name NAME (--help for usage)');
    const help = await models(['train', '--help'], build);
    expect(help.stdout).toMatch(/models -- train {3}--images DIR --name NAME/);
  });
});
