/**
 * The head's training procedure on features already computed: a stratified validation split of the images, the weight
 * decay chosen on it from a small grid, the temperature fitted on it, then the head refitted on every image with the
 * chosen decay. Augmented views of an image go wherever the image goes, and only train: validation measures the
 * eval view, which is what the service computes.
 */
import { evaluate, expectedCalibrationError, type Metrics, softmaxRows } from './metrics.js';
import { seededRandom } from './random.js';
import {
  allLogits,
  type Dataset,
  type FitResult,
  fitSoftmaxRegression,
  type LinearModel,
} from './softmax-regression.js';
import { stratifiedSplit } from './split.js';
import { fitTemperature } from './temperature.js';

/**
 * The weight decays tried (on standardised features), strongest first: each fit starts from the previous one's
 * solution, and the weakly regularised fits, which converge slowest from zero, start close to their optimum.
 */
export const DECAY_GRID = Object.freeze([1e-1, 1e-2, 1e-3, 1e-4]);

/** One image's features: its eval view first, then its augmented views. */
export interface Sample {
  label: number;
  views: Float32Array[];
}

export interface GridPoint {
  decay: number;
  valAccuracy: number;
  valNll: number;
  iterations: number;
}

export interface TrainedHead {
  /** Fitted on every image with the chosen decay. */
  model: LinearModel;
  temperature: number;
  decay: number;
  grid: GridPoint[];
  /** The model fitted on the train part, on the validation images, scores calibrated with `temperature`. */
  validation: Metrics;
  /** The same model's ECE before the temperature. */
  eceBeforeTemperature: number;
  split: { trainImages: number; valImages: number; trainViews: number };
}

export interface FitOptions {
  valFraction: number;
  seed: number;
  decays?: readonly number[];
  onStep?: (done: number, total: number, what: string) => void;
}

function dataset(samples: readonly Sample[], indices: readonly number[], allViews: boolean, classes: number): Dataset {
  const d = samples[0].views[0].length;
  const rows = indices.flatMap((i) => (allViews ? samples[i].views : [samples[i].views[0]]).map((v) => ({ v, i })));
  const x = new Float64Array(rows.length * d);
  const y = new Int32Array(rows.length);
  rows.forEach(({ v, i }, row) => {
    x.set(v, row * d);
    y[row] = samples[i].label;
  });
  return { x, n: rows.length, d, y, classes };
}

export function fitHead(samples: readonly Sample[], labelNames: readonly string[], options: FitOptions): TrainedHead {
  const classes = labelNames.length;
  const decays = options.decays ?? DECAY_GRID;
  const total = decays.length + 1;
  const split = stratifiedSplit(
    samples.map((s) => s.label),
    options.valFraction,
    seededRandom(options.seed),
  );
  const train = dataset(samples, split.train, true, classes);
  const val = dataset(samples, split.val, false, classes);

  const grid: GridPoint[] = [];
  let best: { point: GridPoint; model: FitResult; logits: Float64Array } | undefined;
  let start: Float64Array | undefined;
  decays.forEach((decay, step) => {
    options.onStep?.(step, total, `weight decay ${decay}`);
    const model = fitSoftmaxRegression(train, decay, { start });
    start = model.standardizedParams;
    const logits = allLogits(model, val.x, val.n);
    const metrics = evaluate(softmaxRows(logits, classes), val.y, labelNames);
    const point = { decay, valAccuracy: metrics.accuracy, valNll: metrics.nll, iterations: model.iterations };
    grid.push(point);
    // Accuracy first; among equals, the better likelihood.
    if (
      !best ||
      point.valAccuracy > best.point.valAccuracy ||
      (point.valAccuracy === best.point.valAccuracy && point.valNll < best.point.valNll)
    )
      best = { point, model, logits };
  });
  const chosen = best!;
  const temperature = fitTemperature(chosen.logits, val.y, classes);
  const validation = evaluate(softmaxRows(chosen.logits, classes, temperature), val.y, labelNames);
  const eceBeforeTemperature = expectedCalibrationError(softmaxRows(chosen.logits, classes), val.y, classes);

  options.onStep?.(decays.length, total, 'refit on every image');
  const everything = samples.map((_, i) => i);
  const model = fitSoftmaxRegression(dataset(samples, everything, true, classes), chosen.point.decay, {
    start: chosen.model.standardizedParams,
  });
  options.onStep?.(total, total, 'done');
  return {
    model,
    temperature,
    decay: chosen.point.decay,
    grid,
    validation,
    eceBeforeTemperature,
    split: { trainImages: split.train.length, valImages: split.val.length, trainViews: train.n },
  };
}

/** Calibrated probabilities of a head on features (n × d), n × classes. */
export function headProbabilities(model: LinearModel, temperature: number, x: Float32Array | Float64Array, n: number) {
  return softmaxRows(allLogits(model, x, n), model.classes, temperature);
}
