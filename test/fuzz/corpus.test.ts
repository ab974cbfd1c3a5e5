/**
 * The fuzz regression corpus (test/fixtures/fuzz-corpus/<target>/, written by `npm run fuzz`): every input that
 * ever broke a target's contract, and the crafted hostile inputs (docs/reliability.md), replayed through the same targets. Each must
 * give a result or the module's own typed error (ImageError / CheckpointError), never another exception. Files whose
 * name says what they must give (`<code>--…`) are checked for exactly that.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { corpusFiles, TARGETS } from './targets.js';

describe.each(TARGETS.map((target) => ({ target, files: corpusFiles(target.name) })))(
  '$target.name corpus',
  ({ target, files }) => {
    it('has inputs', () => {
      expect(files.length).toBeGreaterThan(0);
    });

    it.each(files.map((file) => ({ file, name: path.basename(file) })))('$name', async ({ file, name }) => {
      const outcome = await target.run(new Uint8Array(readFileSync(file)));
      if (outcome.kind === 'unexpected') throw outcome.error;
      const expected = /^(.+?)--/.exec(name)?.[1];
      if (expected) expect(outcome.kind === 'expected' ? outcome.code : outcome.kind).toBe(expected);
    });
  },
);
