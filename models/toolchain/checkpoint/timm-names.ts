/**
 * timm `efficientvit_msra` parameter names → official microsoft/Cream names, as a table of patterns: the inverse
 * of timm's checkpoint_filter_fn.
 *
 * timm splits the official `blocksN` lists into `stages.{N-1}.downsample` (res1, patchmerge, res2 — official
 * indices 0..2, only stages 1 and 2 of every M0–M5 variant downsample) and `stages.{N-1}.blocks` (official indices
 * from 3 on in downsampling stages, from 0 in stage 0); names the stem convs conv1..4 (official Sequential indices
 * 0, 2, 4, 6 — ReLUs in between); calls the BN-linear `linear` (official `l`) and each conv `conv` (official `c`).
 */
import { CheckpointError, type StateDict } from '../../state-dict.js';

type Rule = readonly [pattern: RegExp, official: (...groups: string[]) => string];

/** Module path prefix; the first matching rule applies. Every timm name must match one. */
const PREFIX_RULES: readonly Rule[] = [
  [/^patch_embed\.conv([1-4])\./, (n) => `patch_embed.${(Number(n) - 1) * 2}.`],
  [/^stages\.0\.blocks\.(\d+)\./, (block) => `blocks1.${block}.`],
  [/^stages\.(\d+)\.downsample\.res1\./, (stage) => `blocks${Number(stage) + 1}.0.`],
  [/^stages\.(\d+)\.downsample\.patchmerge\./, (stage) => `blocks${Number(stage) + 1}.1.`],
  [/^stages\.(\d+)\.downsample\.res2\./, (stage) => `blocks${Number(stage) + 1}.2.`],
  [/^stages\.(\d+)\.blocks\.(\d+)\./, (stage, block) => `blocks${Number(stage) + 1}.${Number(block) + 3}.`],
  [/^head\.linear\./, () => 'head.l.'],
  [/^head\.bn\./, () => 'head.bn.'],
];

/** Leaf renames, applied after the prefix. */
const LEAF_RULES: readonly Rule[] = [[/\.conv\.(weight|bias)$/, (param) => `.c.${param}`]];

export function officialNameFromTimm(name: string): string {
  const prefix = PREFIX_RULES.find(([pattern]) => pattern.test(name));
  if (!prefix) throw new CheckpointError('unknown-key', `${name} is not an efficientvit_msra parameter name`);
  let official = name.replace(prefix[0], (_, ...groups: string[]) => prefix[1](...groups));
  for (const [pattern, rename] of LEAF_RULES) official = official.replace(pattern, (_, ...groups: string[]) => rename(...groups));
  return official;
}

/** timm files name stages `stages.N`; official ones `blocksN`. */
export function usesTimmNames(stateDict: StateDict): boolean {
  return [...stateDict.keys()].some((name) => name.startsWith('stages.'));
}

export function toOfficialNames(stateDict: StateDict): StateDict {
  const out: StateDict = new Map();
  for (const [name, tensor] of stateDict) {
    const official = officialNameFromTimm(name);
    if (out.has(official)) throw new CheckpointError('unknown-key', `${name} maps onto ${official} twice`);
    out.set(official, tensor);
  }
  return out;
}
