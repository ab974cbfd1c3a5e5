/**
 * `npm run fuzz` as a user runs it (a real process): --help, a short bounded run of one target reporting its
 * executions and outcomes, and usage errors (one `error:` line, exit 2).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fuzz = (...args: string[]) =>
  promisify(execFile)(path.join(root, 'node_modules/.bin/tsx'), ['scripts/fuzz.ts', ...args], { cwd: root }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => error,
  );

it('--help prints the usage, exit 0', async () => {
  const { code, stdout } = await fuzz('--help');
  expect(code).toBe(0);
  expect(stdout).toContain('usage: npm run fuzz');
});

it('runs one target for the given time and reports executions and outcomes by code', async () => {
  const { code, stdout } = await fuzz('--target', 'checkpoint', '--seconds', '2', '--seed', '7');
  expect(code).toBe(0);
  expect(stdout).toMatch(/checkpoint: [1-9]\d* executions in \d+ s .*outcomes: .*truncated \d+/);
});

it.each([
  [['--target', 'nope'], /^error: unknown --target nope; one of jpeg, png, gif, webp, checkpoint, all$/m],
  [['--seconds', 'x'], /^error: --seconds must be a positive number, not "x"$/m],
])('%j is a usage error: exit 2', async (args, message) => {
  const { code, stderr } = await fuzz(...args);
  expect(code).toBe(2);
  expect(stderr).toMatch(message);
});
