/** What a trained head's report measures: accuracy, top-k, per-label precision and recall, the confusion, ECE. */

/** Row-wise softmax(logits / t) of an n × classes matrix, float64, the maximum subtracted. */
export function softmaxRows(logits: Float64Array, classes: number, t = 1): Float64Array {
  const out = new Float64Array(logits.length);
  for (let offset = 0; offset < logits.length; offset += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[offset + c] / t);
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      out[offset + c] = Math.exp(logits[offset + c] / t - max);
      sum += out[offset + c];
    }
    for (let c = 0; c < classes; c++) out[offset + c] /= sum;
  }
  return out;
}

/** The index of each row's largest value (ties: the lower index, as the service ranks). */
export function argmaxRows(values: Float64Array, classes: number): number[] {
  const out: number[] = [];
  for (let offset = 0; offset < values.length; offset += classes) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (values[offset + c] > values[offset + best]) best = c;
    out.push(best);
  }
  return out;
}

export interface LabelMetrics {
  label: string;
  precision: number;
  recall: number;
  /** Samples of this label. */
  support: number;
}

export interface Metrics {
  images: number;
  accuracy: number;
  /** Top-5 accuracy, when there are more than 5 labels. */
  top5?: number;
  /** Mean negative log-likelihood of the true label. */
  nll: number;
  /** Expected calibration error, 15 equal-width confidence bins. */
  ece: number;
  perLabel: LabelMetrics[];
  /** confusion[true][predicted] counts. */
  confusion: number[][];
}

export const ECE_BINS = 15;

/** Expected calibration error: Σ over confidence bins of |accuracy − mean confidence| × the bin's share. */
export function expectedCalibrationError(
  probabilities: Float64Array,
  labels: ArrayLike<number>,
  classes: number,
  bins = ECE_BINS,
): number {
  const count = new Float64Array(bins);
  const correct = new Float64Array(bins);
  const confidence = new Float64Array(bins);
  const predicted = argmaxRows(probabilities, classes);
  for (let i = 0; i < labels.length; i++) {
    const p = probabilities[i * classes + predicted[i]];
    const bin = Math.min(bins - 1, Math.floor(p * bins));
    count[bin]++;
    confidence[bin] += p;
    if (predicted[i] === labels[i]) correct[bin]++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b] > 0) ece += Math.abs(correct[b] - confidence[b]) / labels.length;
  return ece;
}

export function evaluate(
  probabilities: Float64Array,
  labels: ArrayLike<number>,
  labelNames: readonly string[],
): Metrics {
  const classes = labelNames.length;
  const n = labels.length;
  const predicted = argmaxRows(probabilities, classes);
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let correct = 0;
  let top5 = 0;
  let nll = 0;
  for (let i = 0; i < n; i++) {
    const truth = labels[i];
    confusion[truth][predicted[i]]++;
    if (predicted[i] === truth) correct++;
    const p = probabilities[i * classes + truth];
    nll -= Math.log(Math.max(p, 1e-300));
    // Rank of the true label: how many labels score higher (ties count against, as a strict top-5 would).
    let higher = 0;
    for (let c = 0; c < classes; c++) if (c !== truth && probabilities[i * classes + c] >= p) higher++;
    if (higher < 5) top5++;
  }
  const perLabel = labelNames.map((label, c) => {
    const truePositives = confusion[c][c];
    const predictedAs = confusion.reduce((sum, row) => sum + row[c], 0);
    const support = confusion[c].reduce((sum, v) => sum + v, 0);
    return {
      label,
      precision: predictedAs === 0 ? 0 : truePositives / predictedAs,
      recall: support === 0 ? 0 : truePositives / support,
      support,
    };
  });
  return {
    images: n,
    accuracy: n === 0 ? 0 : correct / n,
    ...(classes > 5 ? { top5: n === 0 ? 0 : top5 / n } : {}),
    nll: n === 0 ? 0 : nll / n,
    ece: expectedCalibrationError(probabilities, labels, classes),
    perLabel,
    confusion,
  };
}
