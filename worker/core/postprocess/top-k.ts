/** A model's logits → its most probable classes; the service names them with the model's labels. */

/** One class of a ranking: its output index and softmax probability. */
export interface RankedClass {
  index: number;
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
export function topK(logits: ArrayLike<number>, k: number): RankedClass[] {
  const probabilities = softmax(logits);
  const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a] || a - b);
  return order.slice(0, k).map((index) => ({ index, score: probabilities[index] }));
}
