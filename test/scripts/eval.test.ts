/**
 * `npm run eval` end to end: with a labels file that names each golden image's official top-1 class, the fp32 M0
 * build must score 100% top-1 — decode, preprocessing, model and scoring all have to agree with the official code.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildModels } from '../../models/toolchain/build.js';
import { checkpointsDir, readGolden, repoRoot, sharedDir } from '../helpers/golden.js';
import { nodeToolchainHost } from '../../scripts/lib/node-host.js';

const run = promisify(execFile);
let out: string;

beforeAll(async () => {
  out = mkdtempSync(path.join(tmpdir(), 'eval-'));
  await buildModels({ host: nodeToolchainHost, variants: ['m0'], precisions: ['fp32'], outDir: out, checkpointsDir });
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

async function evaluate(labels: string[]): Promise<Array<Record<string, number | string>>> {
  const labelsFile = path.join(out, 'labels.tsv');
  writeFileSync(labelsFile, `file\tindex\n${labels.join('\n')}\n`);
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/eval.ts',
      '--images',
      path.join(sharedDir, 'images/imagenet-sample'),
      '--labels',
      labelsFile,
      '--out',
      out,
      '--json',
    ],
    { cwd: repoRoot },
  );
  return JSON.parse(stdout);
}

it('scores the official top-1 classes as 100% top-1', async () => {
  const golden = readGolden('m0');
  const rows = await evaluate(golden.images.map((file, i) => `${file}\t${golden.top5[i][0]}`));
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ model: 'm0-fp32', images: 8, 'top-1 %': 100, 'top-5 %': 100 });
});

it('scores the official 5th-ranked classes as top-5 but not top-1', async () => {
  const golden = readGolden('m0');
  const rows = await evaluate(golden.images.map((file, i) => `${file}\t${golden.top5[i][4]}`));
  expect(rows[0]).toMatchObject({ images: 8, 'top-1 %': 0, 'top-5 %': 100 });
});
