/** Where checkpoints come from: the official release assets, or a local directory the user points us at. */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Variant } from '../../manifest.js';

const RELEASE = 'https://github.com/xinyuliu-jeffrey/EfficientViT_Model_Zoo/releases/download/v1.0';

/** Official model-zoo release assets (MIT), as timm's efficientvit_msra default_cfgs also list them. */
export const OFFICIAL_CHECKPOINT_URLS: Readonly<Record<Variant, string>> = Object.freeze({
  m0: `${RELEASE}/efficientvit_m0.pth`,
  m1: `${RELEASE}/efficientvit_m1.pth`,
  m2: `${RELEASE}/efficientvit_m2.pth`,
  m3: `${RELEASE}/efficientvit_m3.pth`,
  m4: `${RELEASE}/efficientvit_m4.pth`,
  m5: `${RELEASE}/efficientvit_m5.pth`,
});

/** Environment variable naming a directory of checkpoints, the alternative to `--checkpoints DIR`. */
export const CHECKPOINTS_ENV = 'EFFICIENTVIT_CHECKPOINTS';

/**
 * The checkpoint for `variant` in `dir`: `efficientvit_mN.pth`, then `efficientvit_mN.<anything>.pth`, then
 * `efficientvit_mN<anything>.safetensors` (e.g. a timm download). Among equals the name sorting first wins, so
 * the choice is deterministic. Undefined when there is none (or `dir` does not exist).
 */
export function findLocalCheckpoint(dir: string, variant: Variant): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return undefined;
  }
  const stem = `efficientvit_${variant}`;
  const preferences: ((name: string) => boolean)[] = [
    (name) => name === `${stem}.pth`,
    (name) => name.startsWith(`${stem}.`) && name.endsWith('.pth'),
    // `efficientvit_m1` must not pick up `efficientvit_m10…`: the stem is followed by a separator or the extension.
    (name) => /^[._-]/.test(name.slice(stem.length)) && name.startsWith(stem) && name.endsWith('.safetensors'),
  ];
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
