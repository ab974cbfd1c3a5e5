/**
 * How a CLI reports a failure. Errors that describe the input or the environment (a damaged checkpoint, a missing
 * file, a failed download: anything with a string `code`, or one of the caller's own classes) are one line,
 * `error: <message>`, because their stack says nothing to the user. Anything else is a bug and keeps its stack.
 * DEBUG=1 prints the stack always.
 */
import { inspect } from 'node:util';

type ErrorClass = abstract new (...args: never[]) => Error;

export function formatCliError(
  error: unknown,
  expected: readonly ErrorClass[] = [],
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (isDebug(env) || !(error instanceof Error)) return inspect(error);
  const describesInput =
    typeof (error as { code?: unknown }).code === 'string' || expected.some((type) => error instanceof type);
  return describesInput ? `error: ${error.message}` : inspect(error);
}

function isDebug(env: NodeJS.ProcessEnv): boolean {
  const value = env.DEBUG?.trim().toLowerCase();
  return value !== undefined && value !== '' && value !== '0' && value !== 'false';
}
