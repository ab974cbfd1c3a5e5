/**
 * Node only: what every command-line program shares (`npm run models`, `eval`, `start:node`, `deploy`, the
 * benchmarks). `--help` prints the usage and exits 0; a mistake in how the command was called (a UsageError, or
 * node:util parseArgs' own errors) is one `error:` line and exit 2; an error that describes the input or the
 * environment (anything with a string `code`, or one of the caller's classes) is one `error:` line and exit 1,
 * because its stack says nothing to the user; anything else is a bug and keeps its stack. DEBUG=1: stacks always.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A user's mistake that is not about the command line (a missing build, an unknown model): exit 1, one line. */
export class UserError extends Error {
  readonly code = 'user-error';
}

type ErrorClass = abstract new (...args: never[]) => Error;

export const EXIT_USAGE = 2;

export function isUsageError(error: unknown): boolean {
  if (error instanceof UsageError) return true;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

export function formatCliError(
  error: unknown,
  expected: readonly ErrorClass[] = [],
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (isDebug(env) || !(error instanceof Error)) return inspect(error);
  // parseArgs' messages run over several lines; a usage error is one.
  if (isUsageError(error)) return `error: ${error.message.replace(/\s*\n\s*/g, ' ')} (--help for usage)`;
  const describesInput =
    typeof (error as { code?: unknown }).code === 'string' || expected.some((type) => error instanceof type);
  return describesInput ? `error: ${error.message}` : inspect(error);
}

/** `--help` or `-h` before a `--` (what follows `--` belongs to another program). */
export function wantsHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/** Runs a CLI's main: help, exit codes and the error line as described above. main may return an exit code. */
export async function runCli(
  usage: string,
  main: (argv: string[]) => unknown,
  argv: string[] = process.argv.slice(2),
): Promise<void> {
  if (wantsHelp(argv)) return void console.log(usage);
  try {
    const code = await main(argv);
    if (typeof code === 'number') process.exitCode = code;
  } catch (error) {
    console.error(formatCliError(error, [UsageError]));
    process.exitCode = isUsageError(error) ? EXIT_USAGE : 1;
  }
}

/**
 * For the benchmarks, whose usage is their file's leading doc comment: prints it and exits 0 on `--help`, when
 * the file is the program being run (not when it is imported).
 */
export function exitOnHelp(moduleUrl: string, argv: readonly string[] = process.argv.slice(2)): void {
  const file = fileURLToPath(moduleUrl);
  if (!process.argv[1] || path.resolve(process.argv[1]) !== file || !wantsHelp(argv)) return;
  console.log(docComment(readFileSync(file, 'utf8')));
  process.exit(0);
}

export function docComment(source: string): string {
  const match = /\/\*\*([\s\S]*?)\*\//.exec(source);
  if (!match) return '';
  return match[1]
    .split('\n')
    .map((line) => line.replace(/^\s*\* ?/, ''))
    .join('\n')
    .trim();
}

function isDebug(env: NodeJS.ProcessEnv): boolean {
  const value = env.DEBUG?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}
