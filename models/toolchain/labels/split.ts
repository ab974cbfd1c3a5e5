/**
 * The stratified validation split: each label gives round(n × fraction) of its images to validation, at least one
 * and never all, so every label is both trained on and measured (a label needs two images).
 */
import { type Random, shuffle } from './random.js';

export interface Split {
  train: number[];
  val: number[];
}

/** Indices of `labels` (one class index per sample) split per class; both lists sorted. */
export function stratifiedSplit(labels: ArrayLike<number>, fraction: number, random: Random): Split {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError('the validation fraction must be between 0 and 1');
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const members = byClass.get(labels[i]) ?? [];
    members.push(i);
    byClass.set(labels[i], members);
  }
  const train: number[] = [];
  const val: number[] = [];
  for (const [label, members] of [...byClass.entries()].sort((a, b) => a[0] - b[0])) {
    if (members.length < 2) throw new RangeError(`class ${label} has ${members.length} sample; a split needs 2`);
    const count = Math.min(members.length - 1, Math.max(1, Math.round(members.length * fraction)));
    const order = shuffle([...members], random);
    val.push(...order.slice(0, count));
    train.push(...order.slice(count));
  }
  return { train: train.sort((a, b) => a - b), val: val.sort((a, b) => a - b) };
}
