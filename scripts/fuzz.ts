/**
 * npm run fuzz -- [--target jpeg|png|gif|webp|checkpoint|all] [--seconds N] [--seed S] [--slow-ms MS]
 *
 * Mutation fuzzing of the parsers of untrusted bytes (test/fuzz/targets.ts): each target's seeds (the test fixtures,
 * small generated checkpoints, its regression corpus) are mutated by fast-check (test/fuzz/mutate.ts) for N seconds
 * per target (default 60), each input run through the target. The property: a result or the module's own typed
 * error. An input that breaks it is shrunk by fast-check and written to test/fixtures/fuzz-corpus/<target>/, which
 * `npm test` replays; so is one that takes longer than --slow-ms (default 2000) plus 250 ms per decoded megapixel
 * (found, not a failure of the run).
 * Exit 1 when a target found a failing input.
 *
 * fast-check rather than jazzer.js (coverage-guided): @jazzer.js/core 4.0.0's native addon needs glibc 2.38 (this
 * Debian 12 has 2.36), and 2.1.0 fetches its addon from GitHub at install time. So this explores by mutation only,
 * without coverage feedback; the report counts outcomes by code as a stand-in for coverage.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { CORPUS_DIR, corpusFiles, type FuzzTarget, TARGETS } from '../test/fuzz/targets.js';
import { mutate, mutationArbitrary } from '../test/fuzz/mutate.js';
import { printCliError, UsageError } from './lib/build-cli.js';

/** Added to --slow-ms per decoded megapixel (a 16 MP decode + preprocess takes ~1 s here). */
const SLOW_MS_PER_MEGAPIXEL = 250;

const USAGE = 'usage: npm run fuzz -- [--target NAME|all] [--seconds N] [--seed S] [--slow-ms MS]';

interface Options {
  targets: FuzzTarget[];
  seconds: number;
  seed: number;
  slowMs: number;
}

function parseOptions(argv: string[]): Options | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        target: { type: 'string', default: 'all' },
        seconds: { type: 'string', default: '60' },
        seed: { type: 'string' },
        'slow-ms': { type: 'string', default: '2000' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return undefined;
  const number = (name: string, text: string) => {
    const value = Number(text);
    if (!(value > 0)) throw new UsageError(`--${name} must be a positive number, not ${JSON.stringify(text)}`);
    return value;
  };
  const targets = values.target === 'all' ? [...TARGETS] : TARGETS.filter((t) => t.name === values.target);
  if (targets.length === 0) {
    throw new UsageError(`unknown --target ${values.target}; one of ${TARGETS.map((t) => t.name).join(', ')}, all`);
  }
  return {
    targets,
    seconds: number('seconds', values.seconds),
    seed: values.seed === undefined ? Date.now() % 2 ** 31 : number('seed', values.seed),
    slowMs: number('slow-ms', values['slow-ms']),
  };
}

function save(target: string, kind: string, bytes: Uint8Array): string {
  const dir = path.join(CORPUS_DIR, target);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${kind}-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.bin`);
  writeFileSync(file, bytes);
  return path.relative(process.cwd(), file);
}

async function fuzz(target: FuzzTarget, options: Options): Promise<boolean> {
  const seeds = [...target.seeds(), ...corpusFiles(target.name).map((file) => new Uint8Array(readFileSync(file)))];
  const outcomes = new Map<string, number>();
  let executions = 0;
  let slowest = 0;
  const started = performance.now();
  const property = fc.asyncProperty(
    fc.nat(seeds.length - 1),
    fc.array(mutationArbitrary, { minLength: 1, maxLength: 8 }),
    async (seed, mutations) => {
      const bytes = mutate(seeds[seed], mutations);
      const t0 = performance.now();
      const outcome = await target.run(bytes);
      const ms = performance.now() - t0;
      executions++;
      slowest = Math.max(slowest, ms);
      // A large image may take its time: the allowance grows with the pixels it decoded to.
      const allowed =
        options.slowMs + SLOW_MS_PER_MEGAPIXEL * ((outcome.kind === 'ok' ? (outcome.pixels ?? 0) : 0) / 1e6);
      if (ms > allowed) console.log(`  slow (${ms.toFixed(0)} ms): ${save(target.name, 'slow', bytes)}`);
      const key = outcome.kind === 'expected' ? outcome.code : outcome.kind;
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (outcome.kind === 'unexpected') throw outcome.error;
    },
  );
  const result = await fc.check(property, {
    seed: options.seed,
    numRuns: Number.MAX_SAFE_INTEGER,
    interruptAfterTimeLimit: options.seconds * 1000,
    markInterruptAsFailure: false,
  });
  const seconds = (performance.now() - started) / 1000;
  const counts = [...outcomes].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${n}`);
  console.log(
    `${target.name}: ${executions} executions in ${seconds.toFixed(0)} s (${(executions / seconds).toFixed(0)}/s), ` +
      `${seeds.length} seeds, slowest ${slowest.toFixed(0)} ms; outcomes: ${counts.join(', ')}`,
  );
  if (!result.failed || !result.counterexample) return true;
  const [seed, mutations] = result.counterexample;
  const file = save(target.name, 'crash', mutate(seeds[seed], mutations));
  console.log(`  FAILED (seed ${options.seed}, shrunk ${result.numShrinks}×): ${String(result.errorInstance)}`);
  console.log(`  written to ${file}: fix it, keep the file (npm test replays it)`);
  return false;
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  console.log(
    `fuzzing ${options.targets.map((t) => t.name).join(', ')}, ${options.seconds} s each, seed ${options.seed}`,
  );
  let ok = true;
  for (const target of options.targets) ok = (await fuzz(target, options)) && ok;
  return ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`error: ${error.message}`);
      console.error(USAGE);
      process.exit(2);
    }
    process.exit(printCliError(error));
  },
);
