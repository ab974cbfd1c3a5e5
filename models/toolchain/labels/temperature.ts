/**
 * Temperature scaling (Guo et al., 2017): one scalar T, fitted on the validation split, that divides the logits so
 * the softmax's confidence matches its accuracy. The argmax, hence the accuracy, is unchanged.
 */
import { softmaxRows } from './metrics.js';

/** Mean negative log-likelihood of softmax(logits / T). */
export function temperatureNll(logits: Float64Array, labels: ArrayLike<number>, classes: number, t: number): number {
  const probabilities = softmaxRows(logits, classes, t);
  let nll = 0;
  for (let i = 0; i < labels.length; i++) nll -= Math.log(Math.max(probabilities[i * classes + labels[i]], 1e-300));
  return nll / labels.length;
}

/** The T in [0.05, 20] minimising the NLL: golden-section search on log T (the NLL is unimodal there). */
export function fitTemperature(logits: Float64Array, labels: ArrayLike<number>, classes: number): number {
  const f = (logT: number) => temperatureNll(logits, labels, classes, Math.exp(logT));
  const ratio = (Math.sqrt(5) - 1) / 2;
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  let a = hi - ratio * (hi - lo);
  let b = lo + ratio * (hi - lo);
  let fa = f(a);
  let fb = f(b);
  while (hi - lo > 1e-6) {
    if (fa <= fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - ratio * (hi - lo);
      fa = f(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + ratio * (hi - lo);
      fb = f(b);
    }
  }
  return Math.exp((lo + hi) / 2);
}
