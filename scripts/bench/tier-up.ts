/**
 * `npm run bench:tier-up`: why requests 2–5 after a cold start are slower than warm ones (issue 14, target 2). The
 * same onnxruntime-web wasm and M0 int8 model as the edge, in fresh Node processes, run after run: under V8's
 * default dynamic tiering (what workerd uses: functions start in the Liftoff baseline compiler and are recompiled by
 * TurboFan in the background once hot) and with `--no-liftoff` (TurboFan from the start: a slow first run, then
 * every run at the optimised speed). Rounds alternate the two so that load drift hits both alike.
 *
 *   npm run bench:tier-up -- [--runs 12] [--rounds 3] [--model FILE]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable } from '../../models/toolchain/table.js';
import { createOrtWebBackendForNode } from '../../worker/runtimes/node/inference/ort-web-node.js';
import { REPO_ROOT } from '../lib/local-edge.js';
import { runCli, UsageError, UserError } from '../lib/build-cli.js';
import { median } from './lib/stats.js';

const USAGE = `usage: npm run bench:tier-up -- [--runs 12] [--rounds 3] [--model FILE]

  --runs N     inference runs per process (default 12)
  --rounds N   fresh processes per V8 setting, alternating (default 3)
  --model F    the ONNX file (default models/build/edge/efficientvit_m0.int8.onnx: run \`npm start\` once first)`;

const SETTINGS = [
  { name: 'dynamic tiering (default, as workerd)', flags: [] },
  { name: '--no-liftoff (TurboFan only)', flags: ['--no-liftoff'] },
] as const;

const INPUT_DIMS: readonly number[] = [1, 3, 224, 224];

/** In the child: session creation, then `runs` runs of one input, in ms. */
async function child(model: string, runs: number): Promise<void> {
  const backend = await createOrtWebBackendForNode();
  let started = performance.now();
  const session = await backend.load(new Uint8Array(readFileSync(model)));
  const sessionMs = performance.now() - started;
  const input = new Float32Array(INPUT_DIMS.reduce((a, b) => a * b, 1)).fill(0.5);
  const runMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    started = performance.now();
    await session.run(input, INPUT_DIMS);
    runMs.push(performance.now() - started);
  }
  process.stdout.write(JSON.stringify({ sessionMs, runMs }));
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      runs: { type: 'string', default: '12' },
      rounds: { type: 'string', default: '3' },
      model: { type: 'string', default: path.join(REPO_ROOT, 'models/build/edge/efficientvit_m0.int8.onnx') },
      child: { type: 'boolean', default: false },
    },
  });
  const count = (raw: string, name: string) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new UsageError(`--${name} must be an integer ≥ 1`);
    return value;
  };
  const runs = count(values.runs, 'runs');
  const rounds = count(values.rounds, 'rounds');
  const model = path.resolve(values.model);
  if (values.child) return child(model, runs);
  try {
    readFileSync(model, { flag: 'r' });
  } catch {
    throw new UserError(`${model}: not found (build the edge models: \`npm start\` once, or --model FILE)`);
  }

  const results = SETTINGS.map(() => [] as { sessionMs: number; runMs: number[] }[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, setting] of SETTINGS.entries()) {
      process.stderr.write(`round ${round + 1}/${rounds}: ${setting.name}\n`);
      const output = execFileSync(
        process.execPath,
        [
          ...setting.flags,
          '--import',
          'tsx',
          import.meta.filename,
          '--child',
          '--runs',
          String(runs),
          '--model',
          model,
        ],
        { encoding: 'utf8', maxBuffer: 1 << 20 },
      );
      results[i].push(JSON.parse(output));
    }
  }
  const rows = SETTINGS.map((setting, i) => {
    const perRun = Array.from({ length: runs }, (_, r) => median(results[i].map((p) => p.runMs[r])));
    const last = median(perRun.slice(-3));
    return {
      'V8 setting': setting.name,
      session: Math.round(median(results[i].map((p) => p.sessionMs))),
      ...Object.fromEntries(perRun.map((ms, r) => [`run ${r + 1}`, Math.round(ms)])),
      'runs 2–5 ÷ last 3': Number((Math.max(...perRun.slice(1, 5)) / last).toFixed(2)),
    };
  });
  console.log(`${path.basename(model)}, ${rounds} fresh processes per setting, ms (medians)`);
  console.log(formatTable(rows));
  console.log('runs 2–5 ÷ last 3: the slowest of runs 2–5 over the median of the last three runs.');
}

void runCli(USAGE, main);
