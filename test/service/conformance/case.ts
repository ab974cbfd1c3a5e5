/**
 * How the shared cases declare themselves, so that each runner states what its runtime skips (the pattern of Hono's
 * runtime tests): the case files take `it` from here, not from vitest; a runner calls `skipCases({ title: reason })`
 * before defining the suites. A listed title that no case has fails the run, so a skip list cannot go stale.
 */
import { afterAll, expect, it as vitestIt } from 'vitest';

const skipped = new Map<string, string>();
const matched = new Set<string>();

/** The cases (by their `it` title) this runtime does not run, each with the reason. */
export function skipCases(list: Readonly<Record<string, string>>): void {
  for (const [title, reason] of Object.entries(list)) skipped.set(title, reason);
  afterAll(() => {
    expect(
      [...skipped.keys()].filter((title) => !matched.has(title)),
      'skip entries that match no case',
    ).toEqual([]);
  });
}

type Body = () => unknown;

function pick(title: string) {
  if (!skipped.has(title)) return vitestIt;
  matched.add(title);
  return vitestIt.skip;
}

export const it = Object.assign((title: string, body: Body, timeout?: number) => pick(title)(title, body, timeout), {
  each:
    <T>(table: readonly T[]) =>
    (title: string, body: (...args: T extends readonly unknown[] ? T : [T]) => unknown, timeout?: number) =>
      pick(title).each(table as T[])(title, body as never, timeout),
});
