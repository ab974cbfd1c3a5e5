/** Where checkpoints come from: the official release assets, or a local directory the user points us at. */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { checkpointFileRules } from '../../efficientvit.js';
import type { Variant } from '../../../worker/core/manifest/manifest.js';

export { OFFICIAL_CHECKPOINT_URLS } from '../../efficientvit.js';

/** Environment variable naming a directory of checkpoints, the alternative to `--checkpoints DIR`. */
export const CHECKPOINTS_ENV = 'EFFICIENTVIT_CHECKPOINTS';

/**
 * The checkpoint for `variant` in `dir`, by the naming rules in models/efficientvit.ts. Among equals the name sorting first wins, so
 * the choice is deterministic. Undefined when there is none (or `dir` does not exist).
 */
export function findLocalCheckpoint(dir: string, variant: Variant): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return undefined;
  }
  const preferences = checkpointFileRules(variant);
  for (const matches of preferences) {
    for (const name of names) {
      const file = path.join(dir, name);
      if (matches(name) && isFile(file)) return file;
    }
  }
  return undefined;
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
