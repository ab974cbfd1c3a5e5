/**
 * `npm run bench:train`: what training a custom-label head costs on this machine. Runs the trainer as a user does,
 * `npm run models -- train --base m0 --images DIR --name NAME`, as a child process under GNU time: wall time and
 * peak resident memory (the largest process of the tree: the trainer's Node process), embedding extraction included.
 * Twice: cold (every embedding computed) and again under another name (the embeddings cached by file hash).
 *
 *   npm run bench:train -- [--count 1000] [--images DIR] [--checkpoints DIR] [--json FILE]
 *
 * The images: --images (an ImageFolder, used as it is), else --count images in 10 labels from
 * ../shared/images/fashion-mnist (train/ and test/, 60 per label), each label topped up with mirrored and flipped
 * copies (sharp), so that every file is a different image and none is a cache hit. Everything happens in a temporary
 * build root (EFFICIENTVIT_BUILD_DIR): M0 is built there first (untimed, from --checkpoints, $EFFICIENTVIT_CHECKPOINTS
 * or the official release), so the cold run finds nothing cached. Target: ≤ 120 s for 1,000 images, 10 labels, M0,
 * no augmentation.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { CHECKPOINTS_ENV } from '../../models/toolchain/checkpoint/sources.js';
import { BUILD_DIR_ENV } from '../../models/toolchain/targets.js';
import { formatTable } from '../../models/toolchain/table.js';
import { docComment, runCli, UsageError, UserError } from '../lib/cli.js';
import { REPO_ROOT } from './edge/setup.js';
import { countOption, runRecord, stringOptions } from './lib/run.js';

const log = (message: string) => process.stderr.write(`${message}\n`);
const FASHION = path.resolve(REPO_ROOT, '../shared/images/fashion-mnist');
const GNU_TIME = '/usr/bin/time';
const TARGET_S = 120;
/** Each original, then mirrored, flipped, and both: 4 different images per file. */
const VARIANTS = [
  (s: sharp.Sharp) => s,
  (s: sharp.Sharp) => s.flop(),
  (s: sharp.Sharp) => s.flip(),
  (s: sharp.Sharp) => s.flip().flop(),
];

/** `count` images in fashion-mnist's 10 labels under `dir`/<label>/, all different images. */
async function imageSet(dir: string, count: number): Promise<{ labels: number; unique: number }> {
  const labels = readdirSync(path.join(FASHION, 'train')).sort();
  const perLabel = Math.ceil(count / labels.length);
  const hashes = new Set<string>();
  for (const label of labels) {
    const originals = ['train', 'test'].flatMap((split) =>
      readdirSync(path.join(FASHION, split, label)).map((f) => path.join(FASHION, split, label, f)),
    );
    if (perLabel > VARIANTS.length * originals.length)
      throw new UsageError(`--count ${count}: at most ${VARIANTS.length * originals.length * labels.length} here`);
    mkdirSync(path.join(dir, label), { recursive: true });
    for (let i = 0; i < perLabel; i++) {
      const variant = VARIANTS[Math.floor(i / originals.length)];
      const bytes = await variant(sharp(originals[i % originals.length]))
        .png()
        .toBuffer();
      hashes.add(createHash('sha256').update(bytes).digest('hex'));
      writeFileSync(path.join(dir, label, `${String(i).padStart(4, '0')}.png`), bytes);
    }
  }
  return { labels: labels.length, unique: hashes.size };
}

/** Runs `npm run …args` under GNU time; its output goes to stderr. Wall seconds and peak RSS (MiB). */
async function timed(args: string[], env: NodeJS.ProcessEnv): Promise<{ wallS: number; peakMiB: number }> {
  const report = path.join(env[BUILD_DIR_ENV] as string, 'time.txt');
  const child = execFile(GNU_TIME, ['-f', '%e %M', '-o', report, 'npm', 'run', '--silent', ...args], {
    cwd: REPO_ROOT,
    env,
    maxBuffer: 64 * 2 ** 20,
  });
  child.stdout?.pipe(process.stderr);
  child.stderr?.pipe(process.stderr);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new UserError(`npm run ${args.join(' ')} exited with ${code}`);
  const [wallS, peakKiB] = readFileSync(report, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { wallS, peakMiB: peakKiB / 1024 };
}

async function main(argv: string[]): Promise<void> {
  const o = stringOptions(argv, { count: '1000', images: undefined, checkpoints: undefined, json: undefined });
  const count = countOption(o.count, 'count', 10);
  if (!existsSync(GNU_TIME))
    throw new UserError(`${GNU_TIME} not found: this benchmark needs GNU time (apt install time)`);
  const checkpoints = o.checkpoints ?? process.env[CHECKPOINTS_ENV];
  const scratch = mkdtempSync(path.join(tmpdir(), 'bench-train-'));
  const env = { ...process.env, [BUILD_DIR_ENV]: path.join(scratch, 'build'), FORCE_COLOR: '0' };
  try {
    const images = o.images ? path.resolve(o.images) : path.join(scratch, 'images');
    let set = { labels: 0, unique: 0 };
    if (!o.images) {
      log(`writing ${count} images from ${path.relative(REPO_ROOT, FASHION)} into ${images}`);
      set = await imageSet(images, count);
    }
    const withCheckpoints = checkpoints ? ['--checkpoints', path.resolve(checkpoints)] : [];
    log('building M0 into the temporary build root (untimed)');
    mkdirSync(env[BUILD_DIR_ENV], { recursive: true });
    await timed(['models', '--', 'build', '--variants', 'm0', ...withCheckpoints], env);
    const runs = [];
    for (const [run, name] of [
      ['cold', 'bench-cold'],
      ['embeddings cached', 'bench-cached'],
    ]) {
      log(`training (${run})`);
      const args = ['models', '--', 'train', '--base', 'm0', '--images', images, '--name', name, ...withCheckpoints];
      const { wallS, peakMiB } = await timed(args, env);
      runs.push({
        run,
        images: o.images ? '(--images)' : count,
        'wall s': Number(wallS.toFixed(1)),
        'peak RSS MiB': Math.round(peakMiB),
      });
    }
    console.log(formatTable(runs));
    if (!o.images)
      console.log(`\n${count} images (${set.unique} different files), ${set.labels} labels, base M0, no augmentation`);
    const cold = runs[0]['wall s'];
    console.log(`${cold <= TARGET_S ? 'PASS' : 'FAIL'}  cold training ≤ ${TARGET_S} s (measured ${cold} s)`);
    if (o.json)
      writeFileSync(o.json, `${JSON.stringify({ recorded: runRecord('bench:train', argv), runs }, null, 1)}\n`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

void runCli(docComment(readFileSync(new URL(import.meta.url), 'utf8')), main);
