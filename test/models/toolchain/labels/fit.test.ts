/** The head's numerical core on cases checkable by hand: the split, L-BFGS, the gradient, temperature, metrics. */
import { describe, expect, it } from 'vitest';
import { fitHead, type Sample } from '../../../../models/toolchain/labels/fit.js';
import { minimizeLbfgs } from '../../../../models/toolchain/labels/lbfgs.js';
import { evaluate, expectedCalibrationError, softmaxRows } from '../../../../models/toolchain/labels/metrics.js';
import { seededRandom } from '../../../../models/toolchain/labels/random.js';
import {
  allLogits,
  type Dataset,
  fitSoftmaxRegression,
  softmaxObjective,
} from '../../../../models/toolchain/labels/softmax-regression.js';
import { stratifiedSplit } from '../../../../models/toolchain/labels/split.js';
import { fitTemperature, temperatureNll } from '../../../../models/toolchain/labels/temperature.js';

/** Three Gaussian blobs in 4-D, far apart: linearly separable. */
function blobs(perClass: number, seed: number, spread = 0.3): Dataset {
  const random = seededRandom(seed);
  const centres = [
    [5, 0, 0, 1],
    [0, 5, 0, 1],
    [0, 0, 5, 1],
  ];
  const n = perClass * 3;
  const x = new Float64Array(n * 4);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    for (let j = 0; j < 4; j++) x[i * 4 + j] = centres[y[i]][j] + spread * (random.next() * 2 - 1);
  }
  return { x, n, d: 4, y, classes: 3 };
}

describe('stratified split', () => {
  it('gives each label round(n × fraction) to validation, at least one, never all, reproducibly', () => {
    const labels = [...Array(10).fill(0), ...Array(5).fill(1), ...Array(2).fill(2)];
    const split = stratifiedSplit(labels, 0.2, seededRandom(7));
    const count = (indices: number[], label: number) => indices.filter((i) => labels[i] === label).length;
    expect([0, 1, 2].map((l) => count(split.val, l))).toEqual([2, 1, 1]);
    expect([0, 1, 2].map((l) => count(split.train, l))).toEqual([8, 4, 1]);
    expect([...split.train, ...split.val].sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
    expect(stratifiedSplit(labels, 0.2, seededRandom(7))).toEqual(split);
    expect(stratifiedSplit(labels, 0.2, seededRandom(8))).not.toEqual(split);
    expect(() => stratifiedSplit([0, 0, 1], 0.2, seededRandom(1))).toThrow(/class 1 has 1 sample/);
  });
});

describe('L-BFGS', () => {
  it('finds the minimum of the Rosenbrock function', () => {
    const result = minimizeLbfgs(
      (p, g) => {
        const [a, b] = p;
        g[0] = -2 * (1 - a) - 400 * a * (b - a * a);
        g[1] = 200 * (b - a * a);
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2;
      },
      Float64Array.from([-1.2, 1]),
      { gradientTolerance: 1e-9, relativeTolerance: 0 },
    );
    expect(result.converged).toBe(true);
    expect(result.x[0]).toBeCloseTo(1, 5);
    expect(result.x[1]).toBeCloseTo(1, 5);
  });
});

describe('softmax regression', () => {
  it("the objective's gradient matches central finite differences", () => {
    const data = blobs(4, 1);
    const f = softmaxObjective(data, 0.05);
    const random = seededRandom(3);
    const params = Float64Array.from({ length: 3 * 4 + 3 }, () => random.next() - 0.5);
    const gradient = new Float64Array(params.length);
    f(params, gradient);
    const scratch = new Float64Array(params.length);
    const h = 1e-6;
    for (let k = 0; k < params.length; k++) {
      const plus = Float64Array.from(params);
      const minus = Float64Array.from(params);
      plus[k] += h;
      minus[k] -= h;
      const numeric = (f(plus, scratch) - f(minus, scratch)) / (2 * h);
      expect(Math.abs(numeric - gradient[k])).toBeLessThan(1e-7);
    }
  });

  it('separates separable data perfectly, the standardisation folded back into W and b', () => {
    const data = blobs(20, 2);
    const model = fitSoftmaxRegression(data, 1e-3);
    expect(model.converged).toBe(true);
    const probabilities = softmaxRows(allLogits(model, data.x, data.n), 3);
    expect(evaluate(probabilities, data.y, ['a', 'b', 'c']).accuracy).toBe(1);
    // A fresh sample near each centre lands in its class (the fold applies to raw features).
    const fresh = Float64Array.from([5, 0, 0, 1, 0, 5, 0, 1, 0, 0, 5, 1]);
    const freshProbabilities = softmaxRows(allLogits(model, fresh, 3), 3);
    expect([0, 1, 2].map((i) => freshProbabilities[i * 3 + i] > 0.9)).toEqual([true, true, true]);
  });

  it('more weight decay, smaller weights', () => {
    const data = blobs(10, 4);
    const norm = (w: Float64Array) => Math.hypot(...w);
    expect(norm(fitSoftmaxRegression(data, 1).weights)).toBeLessThan(norm(fitSoftmaxRegression(data, 1e-3).weights));
  });
});

describe('temperature', () => {
  it('recovers the temperature that generated the labels', () => {
    // Labels drawn from softmax(z / 2): the NLL is smallest near T = 2.
    const random = seededRandom(5);
    const n = 4000;
    const logits = Float64Array.from({ length: n * 3 }, () => 4 * (random.next() - 0.5));
    const truth = softmaxRows(logits, 3, 2);
    const labels = Array.from({ length: n }, (_, i) => {
      const u = random.next();
      return u < truth[i * 3] ? 0 : u < truth[i * 3] + truth[i * 3 + 1] ? 1 : 2;
    });
    const t = fitTemperature(logits, labels, 3);
    expect(t).toBeGreaterThan(1.7);
    expect(t).toBeLessThan(2.3);
    for (const other of [t * 0.8, t * 1.25])
      expect(temperatureNll(logits, labels, 3, t)).toBeLessThan(temperatureNll(logits, labels, 3, other));
  });
});

describe('metrics', () => {
  it('accuracy, top-5, precision, recall, confusion and ECE of a hand-made case', () => {
    // 4 samples, 2 classes; predictions: right (0.9), right (0.6), wrong (0.8 on 1), right (0.7).
    const p = Float64Array.from([0.9, 0.1, 0.4, 0.6, 0.8, 0.2, 0.3, 0.7]);
    const labels = [0, 1, 1, 1];
    const m = evaluate(p, labels, ['a', 'b']);
    expect(m.accuracy).toBe(0.75);
    expect(m.top5).toBeUndefined();
    expect(m.confusion).toEqual([
      [1, 0],
      [1, 2],
    ]);
    expect(m.perLabel).toEqual([
      { label: 'a', precision: 0.5, recall: 1, support: 1 },
      { label: 'b', precision: 1, recall: 2 / 3, support: 3 },
    ]);
    // Bins (15 wide): 0.9 → bin 13 (acc 1), 0.6 → bin 9 (acc 1), 0.8 → bin 12 (acc 0), 0.7 → bin 10 (acc 1).
    const expected = (0.1 + 0.4 + 0.8 + 0.3) / 4;
    expect(expectedCalibrationError(p, labels, 2)).toBeCloseTo(expected, 12);
    expect(m.ece).toBeCloseTo(expected, 12);
    expect(m.nll).toBeCloseTo(-(Math.log(0.9) + Math.log(0.6) + Math.log(0.2) + Math.log(0.7)) / 4, 12);
  });
});

describe('fitHead', () => {
  it('chooses a decay on validation, refits on everything, keeps augmented views out of validation', () => {
    const data = blobs(10, 6, 2.5);
    const samples: Sample[] = Array.from({ length: data.n }, (_, i) => ({
      label: data.y[i],
      views: [Float32Array.from(data.x.subarray(i * 4, i * 4 + 4)), Float32Array.from([9, 9, 9, 9])],
    }));
    const steps: string[] = [];
    const head = fitHead(samples, ['a', 'b', 'c'], { valFraction: 0.2, seed: 1, onStep: (_, __, w) => steps.push(w) });
    expect(head.split).toEqual({ trainImages: 24, valImages: 6, trainViews: 48 });
    expect(head.validation.images).toBe(6);
    expect(head.grid.map((g) => g.decay)).toEqual([1e-1, 1e-2, 1e-3, 1e-4]);
    const best = Math.max(...head.grid.map((g) => g.valAccuracy));
    expect(head.grid.find((g) => g.decay === head.decay)!.valAccuracy).toBe(best);
    expect(head.validation.accuracy).toBe(best);
    expect(head.temperature).toBeGreaterThan(0);
    expect(steps.at(-1)).toBe('done');
    expect(fitHead(samples, ['a', 'b', 'c'], { valFraction: 0.2, seed: 1 }).model.weights).toEqual(head.model.weights);
  });
});
