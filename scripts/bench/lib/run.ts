/**
 * What the benchmark CLIs share besides statistics: reading count and list options, and the record each JSON result
 * carries of how it was made (the command, the date, the commit), which `npm run bench:report` prints beside every
 * table generated from it.
 */
import { execFileSync } from 'node:child_process';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from '../../lib/cli.js';

/**
 * The benchmarks' options are all strings with a default or none (`undefined`): parseArgs for them, strict (an
 * unknown option is a usage error), each value typed as present when it has a default.
 */
export function stringOptions<D extends Record<string, string | undefined>>(
  argv: string[],
  defaults: D,
): { [K in keyof D]: D[K] extends string ? string : string | undefined } {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, value] of Object.entries(defaults)) options[name] = { type: 'string', default: value };
  return parseArgs({ args: argv, options }).values as never;
}

/** `a,b, c` → ['a', 'b', 'c']. */
export const listOption = (raw: string): string[] =>
  raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

/** An integer option ≥ min, or a UsageError naming it. */
export function countOption(raw: string, name: string, min = 1): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name} must be an integer ≥ ${min}`);
  return value;
}

export interface RunRecord {
  /** How to run it again, e.g. `npm run bench:edge -- --warm 20 --json docs/bench/data/edge.json`. */
  command: string;
  /** The day it ran (UTC), YYYY-MM-DD. */
  date: string;
  /** The checkout's commit, marked when the tree had uncommitted changes; absent outside git. */
  commit?: string;
}

export function runRecord(npmScript: string, argv: readonly string[] = process.argv.slice(2)): RunRecord {
  const quoted = argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`));
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: 'pipe' }).trim();
  let commit: string | undefined;
  try {
    commit = git('rev-parse', '--short', 'HEAD') + (git('status', '--porcelain') ? ' with uncommitted changes' : '');
  } catch {
    // Not a git checkout (an exported tree): the command and the date still say how it was made.
  }
  return {
    command: `npm run ${npmScript}${quoted.length ? ` -- ${quoted.join(' ')}` : ''}`,
    date: new Date().toISOString().slice(0, 10),
    ...(commit ? { commit } : {}),
  };
}
