/**
 * Multinomial logistic (softmax) regression with L2 weight decay on the weights (not the bias), fitted by L-BFGS in
 * float64. The features are standardised inside (per-dimension mean and spread) so one weight decay suits features
 * of any scale and L-BFGS sees a well-conditioned problem; the result is folded back so that it applies to the raw
 * features: logits = W·x + b.
 */
import { minimizeLbfgs } from './lbfgs.js';

/** n samples of d features, row-major float64. */
export interface Dataset {
  x: Float64Array;
  n: number;
  d: number;
  /** The class index of each sample. */
  y: Int32Array;
  classes: number;
}

export interface LinearModel {
  /** classes × d, row-major. */
  weights: Float64Array;
  bias: Float64Array;
  classes: number;
  d: number;
}

export interface FitResult extends LinearModel {
  iterations: number;
  converged: boolean;
  /** The objective at the optimum (mean cross-entropy + decay term, standardised space). */
  loss: number;
  /** The parameters in standardised space: a warm start for a fit with another decay. */
  standardizedParams: Float64Array;
}

/** logits = W·x + b of sample `row` of `x` into `out`. */
export function linearLogits(model: LinearModel, x: Float64Array | Float32Array, row: number, out: Float64Array): void {
  const { weights, bias, classes, d } = model;
  const offset = row * d;
  for (let c = 0; c < classes; c++) {
    let sum = bias[c];
    const w = c * d;
    for (let j = 0; j < d; j++) sum += weights[w + j] * x[offset + j];
    out[c] = sum;
  }
}

/** Every sample's logits, n × classes. */
export function allLogits(model: LinearModel, x: Float64Array | Float32Array, n: number): Float64Array {
  const out = new Float64Array(n * model.classes);
  const row = new Float64Array(model.classes);
  for (let i = 0; i < n; i++) {
    linearLogits(model, x, i, row);
    out.set(row, i * model.classes);
  }
  return out;
}

/**
 * Mean cross-entropy over the samples plus (decay / 2)·‖W‖², and its gradient, for parameters [W (C×d), b (C)].
 * Exported for the gradient check.
 */
export function softmaxObjective(
  data: Dataset,
  decay: number,
): (params: Float64Array, gradient: Float64Array) => number {
  const { x, n, d, y, classes } = data;
  const z = new Float64Array(classes);
  return (params, gradient) => {
    gradient.fill(0);
    const biasAt = classes * d;
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const offset = i * d;
      let max = -Infinity;
      for (let c = 0; c < classes; c++) {
        let sum = params[biasAt + c];
        const w = c * d;
        for (let j = 0; j < d; j++) sum += params[w + j] * x[offset + j];
        z[c] = sum;
        if (sum > max) max = sum;
      }
      let total = 0;
      for (let c = 0; c < classes; c++) {
        z[c] = Math.exp(z[c] - max);
        total += z[c];
      }
      loss -= Math.log(z[y[i]] / total);
      for (let c = 0; c < classes; c++) {
        const delta = (z[c] / total - (c === y[i] ? 1 : 0)) / n;
        if (delta === 0) continue;
        const w = c * d;
        for (let j = 0; j < d; j++) gradient[w + j] += delta * x[offset + j];
        gradient[biasAt + c] += delta;
      }
    }
    let penalty = 0;
    for (let k = 0; k < biasAt; k++) {
      penalty += params[k] * params[k];
      gradient[k] += decay * params[k];
    }
    return loss / n + (decay / 2) * penalty;
  };
}

/** Per-dimension mean and spread (1 for a constant dimension). */
export function standardization(x: Float64Array, n: number, d: number): { mean: Float64Array; scale: Float64Array } {
  const mean = new Float64Array(d);
  const scale = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) {
      const v = x[i * d + j] - mean[j];
      scale[j] += (v * v) / n;
    }
  for (let j = 0; j < d; j++) scale[j] = scale[j] > 1e-24 ? Math.sqrt(scale[j]) : 1;
  return { mean, scale };
}

export function fitSoftmaxRegression(
  data: Dataset,
  decay: number,
  options: { maxIterations?: number; start?: Float64Array } = {},
): FitResult {
  const { n, d, classes } = data;
  const { mean, scale } = standardization(data.x, n, d);
  const standardized = new Float64Array(n * d);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < d; j++) standardized[i * d + j] = (data.x[i * d + j] - mean[j]) / scale[j];
  const objective = softmaxObjective({ ...data, x: standardized }, decay);
  const start =
    options.start?.length === classes * d + classes ? options.start : new Float64Array(classes * d + classes);
  const result = minimizeLbfgs(objective, start, {
    // Enough for the validation accuracy to settle; nearly separable data with little decay would go on for long.
    maxIterations: options.maxIterations ?? 200,
  });
  // Fold the standardisation in: W' = W / scale, b' = b - W'·mean.
  const weights = new Float64Array(classes * d);
  const bias = new Float64Array(classes);
  for (let c = 0; c < classes; c++) {
    let shift = 0;
    for (let j = 0; j < d; j++) {
      const w = result.x[c * d + j] / scale[j];
      weights[c * d + j] = w;
      shift += w * mean[j];
    }
    bias[c] = result.x[classes * d + c] - shift;
  }
  return {
    weights,
    bias,
    classes,
    d,
    iterations: result.iterations,
    converged: result.converged,
    loss: result.value,
    standardizedParams: result.x,
  };
}
