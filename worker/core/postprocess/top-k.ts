import type { ClassLabel } from '../manifest/manifest.js';

export interface Prediction {
  index: number;
  synset: string;
  label: string;
  /** Softmax probability. */
  score: number;
}

/** Softmax of one row of logits, in float64 with the maximum subtracted so large logits cannot overflow. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const probabilities = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    probabilities[i] = Math.exp(logits[i] - max);
    sum += probabilities[i];
  }
  for (let i = 0; i < probabilities.length; i++) probabilities[i] /= sum;
  return probabilities;
}

/** The k most probable classes, most probable first; ties keep the lower class index first. */
export function topK(logits: ArrayLike<number>, k: number, labels: readonly ClassLabel[]): Prediction[] {
  const probabilities = softmax(logits);
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  return order.slice(0, k).map((index) => ({
    index,
    synset: labels[index].synset,
    label: labels[index].label,
    score: probabilities[index],
  }));
}
