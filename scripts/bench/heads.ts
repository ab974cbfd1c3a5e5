/**
 * `npm run bench:heads`: a trained head costs no session. Two fresh workerd processes run the deployed Worker on the
 * same models folder, side by side in one run: A gets m0 / m1 alternating, B gets m0 / m1 / a head on m0 in turn,
 * one request at a time, rounds interleaved between A and B. Per arm and model: p50/p90 end to end, the requests
 * that loaded a session (`timing.session_ms`), isolate memory after the warm-up and at the end.
 *
 *   npm run bench:heads -- [--models DIR] [--checkpoints DIR] [--head NAME] [--requests 30] [--warmup 3] [--json FILE]
 *
 * --models: an edge build folder (M0/M1 built there when missing, as bench:edge does); its m0, m1 and, with --head,
 * that trained head are copied into .cache/bench-heads/models. Without --head a fixture head is written there: 10
 * labels, seeded weights on M0's embedding (the scores mean nothing; the work per request is a trained head's).
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CHECKPOINTS_ENV } from '../../models/toolchain/checkpoint/sources.js';
import { readManifest } from '../../models/toolchain/manifest-file.js';
import { formatTable } from '../../models/toolchain/table.js';
import { sha256Hex, type ManifestModel } from '../../worker/core/manifest/manifest.js';
import { docComment, runCli, UsageError } from '../lib/cli.js';
import { ensureModels, imageBytes, MiB, REPO_ROOT, WORKER_NAME } from './edge/setup.js';
import { classify } from './lib/classify.js';
import { countOption, runRecord, stringOptions } from './lib/run.js';
import { median, percentile } from './lib/stats.js';
import type { IsolateMemorySample } from './lib/isolate-memory.js';
import { bundleWorker, startWorkerd } from './lib/workerd.js';

const log = (message: string) => process.stderr.write(`${message}\n`);
const FIXTURE = 'bench-head';
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** A seeded head on `base` as `npm run models -- train` writes one (worker/core/manifest/head.ts), and its entry. */
async function writeFixtureHead(dir: string, base: ManifestModel) {
  let seed = 23;
  const uniform = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
  const dims = base.embedding?.shape[1];
  if (!dims) throw new UsageError(`${base.name} has no embedding output: rebuild it`);
  const labels = Array.from({ length: 10 }, (_, k) => `label-${k}`);
  const weights = Array.from({ length: labels.length * dims }, () => Math.fround((uniform() - 0.5) / Math.sqrt(dims)));
  const head = { format: 'efficientvit-head/1', name: FIXTURE, base: base.name, dims, classes: labels.length, labels };
  const bytes = new TextEncoder().encode(
    JSON.stringify({ ...head, weights, bias: labels.map(() => 0), temperature: 1 }),
  );
  writeFileSync(path.join(dir, `${FIXTURE}.head.json`), bytes);
  writeFileSync(path.join(dir, `${FIXTURE}.labels.json`), JSON.stringify(labels.map((label) => ({ label }))));
  const sha256 = await sha256Hex(bytes);
  const entry = { name: FIXTURE, base: base.name, file: `${FIXTURE}.head.json`, bytes: bytes.byteLength, sha256 };
  return { ...entry, labels: FIXTURE, classes: labels.length, dims, baseSha256: base.sha256 };
}

/** What this bench reads of a manifest's `heads` entry (worker/core/manifest/head.ts: ManifestHead). */
type HeadEntry = { name: string; base: string; file: string; labels: string };

/** The bench's own models folder: m0, m1 and the head, nothing else (the user's folder is only read). */
async function benchModels(source: string, checkpoints: string | undefined, headName: string | undefined) {
  const [m0, m1] = await ensureModels(source, ['m0', 'm1'], checkpoints, log);
  const dir = path.join(REPO_ROOT, '.cache/bench-heads/models');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const copy = (file: string) => copyFileSync(path.join(source, file), path.join(dir, file));
  for (const m of [m0, m1]) [m.file, `${m.labels}.labels.json`].forEach(copy);
  let head: HeadEntry;
  if (headName) {
    const manifest = (await readManifest(source)) as { heads?: HeadEntry[] } | undefined;
    const found = manifest?.heads?.find((h) => h.name === headName);
    if (!found) throw new UsageError(`${headName}: no such head in ${source}/manifest.json`);
    if (found.base !== 'm0') throw new UsageError(`${headName} is a head on ${found.base}; this bench needs one on m0`);
    head = found;
    [head.file, `${head.labels}.labels.json`].forEach(copy);
  } else head = await writeFixtureHead(dir, m0);
  const manifest = { version: 1, generated: new Date().toISOString(), models: [m0, m1], heads: [head] };
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 1));
  return { dir, head: head.name };
}

interface Arm {
  name: string;
  models: string[];
  e2eMs: Record<string, number[]>;
  loads: Record<string, number>;
  /** Isolate memory samples after the warm-up and at the end (lib/isolate-memory.ts). */
  memory: IsolateMemorySample[];
}

async function main(argv: string[]): Promise<void> {
  const o = stringOptions(argv, {
    ...{ models: path.join(REPO_ROOT, 'models/build/edge'), checkpoints: undefined, head: undefined },
    ...{ requests: '30', warmup: '3', json: undefined },
  });
  const [requests, warmup] = [countOption(o.requests, 'requests'), countOption(o.warmup, 'warmup', 1)];
  const checkpoints = o.checkpoints ?? process.env[CHECKPOINTS_ENV] ?? undefined;
  const { dir, head } = await benchModels(path.resolve(o.models), checkpoints, o.head);
  const worker = await bundleWorker({ modelsDir: dir, outDir: `${dir}/../dist`, name: WORKER_NAME, log });
  const bytes = imageBytes('imagenet');
  const armOf = (models: string[]): Arm => ({ name: models.join(' / '), models, e2eMs: {}, loads: {}, memory: [] });
  const arms = [armOf(['m0', 'm1']), armOf(['m0', 'm1', head])];
  const workerds = [await startWorkerd(worker, WORKER_NAME), await startWorkerd(worker, WORKER_NAME)];
  const sample = async () => {
    for (const [i, arm] of arms.entries()) arm.memory.push(await workerds[i].probe!.sample());
  };
  try {
    const round = async (timed: boolean) => {
      for (const [i, arm] of arms.entries())
        for (const model of arm.models) {
          const run = await classify(workerds[i].url, model, bytes);
          if (!timed) continue;
          (arm.e2eMs[model] ??= []).push(run.e2eMs);
          arm.loads[model] = (arm.loads[model] ?? 0) + (run.timing.session_ms !== undefined ? 1 : 0);
        }
    };
    log(`${warmup} untimed round(s), then ${requests} timed rounds`);
    for (let r = 0; r < warmup; r++) await round(false);
    await sample();
    for (let r = 0; r < requests; r++) await round(true);
    await sample();
  } finally {
    await Promise.all(workerds.map((w) => w.dispose()));
  }
  const r1 = (v: number) => Number(v.toFixed(1));
  const rows = arms.flatMap((arm) =>
    Object.entries(arm.e2eMs).map(([model, ms]) => ({
      ...{ traffic: arm.name, model, requests: ms.length, 'p50 ms': r1(median(ms)), 'p90 ms': r1(percentile(ms, 0.9)) },
      'session loads': arm.loads[model],
      'isolate MiB warm / end': arm.memory.map((m) => r1(m.totalBytes / MiB)).join(' / '),
      'retained MiB end': r1(arm.memory[1].retainedBytes / MiB),
      'wasm MiB end': r1(sum(arm.memory[1].wasmMemoryBytes) / MiB),
    })),
  );
  console.log(formatTable(rows));
  const p50 = (arm: Arm, model: string) => median(arm.e2eMs[model]);
  const ratios = {
    m0: p50(arms[1], 'm0') / p50(arms[0], 'm0'),
    m1: p50(arms[1], 'm1') / p50(arms[0], 'm1'),
    headVsM0: p50(arms[1], head) / p50(arms[1], 'm0'),
    retainedMiBDelta: (arms[1].memory[1].retainedBytes - arms[0].memory[1].retainedBytes) / MiB,
    wasmMiBDelta: (sum(arms[1].memory[1].wasmMemoryBytes) - sum(arms[0].memory[1].wasmMemoryBytes)) / MiB,
  };
  const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(1)} MiB`;
  console.log(
    `\np50 with the head in the traffic / without: m0 ${ratios.m0.toFixed(2)}×, m1 ${ratios.m1.toFixed(2)}×; ${head} / m0` +
      ` in the same traffic ${ratios.headVsM0.toFixed(2)}×; with the head at the end: wasm memories` +
      ` ${signed(ratios.wasmMiBDelta)}, retained ${signed(ratios.retainedMiBDelta)}\nend to end at the client, one` +
      ' request at a time; session loads: timed answers reporting a model load (timing.session_ms); isolate: JS heap +' +
      ' ArrayBuffers (garbage included) + wasm memories; retained: the same after a full collection',
  );
  const record = { recorded: runRecord('bench:heads', argv), rows, ratios };
  if (o.json) writeFileSync(o.json, `${JSON.stringify(record, null, 1)}\n`);
}

void runCli(docComment(readFileSync(new URL(import.meta.url), 'utf8')), main);
