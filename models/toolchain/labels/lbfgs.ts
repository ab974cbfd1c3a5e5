/**
 * Limited-memory BFGS (Nocedal & Wright, algorithm 7.4/7.5) in float64 with a backtracking Armijo line search: the
 * softmax regression and its gradient are smooth and convex, where this converges in tens of iterations.
 */

/** The objective's value and gradient at x (the gradient written into `gradient`). */
export type Objective = (x: Float64Array, gradient: Float64Array) => number;

export interface LbfgsOptions {
  maxIterations?: number;
  /** Stop when the gradient's max-norm falls below this. */
  gradientTolerance?: number;
  /** Stop when an iteration improves the value by less than this relative amount. */
  relativeTolerance?: number;
  memory?: number;
}

export interface LbfgsResult {
  x: Float64Array;
  value: number;
  iterations: number;
  converged: boolean;
}

const dot = (a: Float64Array, b: Float64Array): number => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
};
const maxAbs = (a: Float64Array): number => {
  let max = 0;
  for (const v of a) max = Math.max(max, Math.abs(v));
  return max;
};

export function minimizeLbfgs(objective: Objective, start: Float64Array, options: LbfgsOptions = {}): LbfgsResult {
  const maxIterations = options.maxIterations ?? 500;
  const gradientTolerance = options.gradientTolerance ?? 1e-6;
  const relativeTolerance = options.relativeTolerance ?? 1e-10;
  const memory = options.memory ?? 10;
  const n = start.length;
  let x = Float64Array.from(start);
  let gradient = new Float64Array(n);
  let value = objective(x, gradient);
  const history: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  const direction = new Float64Array(n);
  const alphas = new Float64Array(memory);

  for (let iteration = 0; iteration < maxIterations; iteration++) {
    if (maxAbs(gradient) < gradientTolerance) return { x, value, iterations: iteration, converged: true };
    // Two-loop recursion: direction = -H·g.
    direction.set(gradient);
    for (let i = history.length - 1; i >= 0; i--) {
      const { s, y, rho } = history[i];
      const alpha = rho * dot(s, direction);
      alphas[i] = alpha;
      for (let j = 0; j < n; j++) direction[j] -= alpha * y[j];
    }
    const last = history.at(-1);
    // The initial Hessian scale; before any curvature pair, a step of unit length.
    const gamma = last
      ? dot(last.s, last.y) / dot(last.y, last.y)
      : 1 / Math.max(1e-12, Math.sqrt(dot(gradient, gradient)));
    for (let j = 0; j < n; j++) direction[j] *= gamma;
    for (let i = 0; i < history.length; i++) {
      const { s, y, rho } = history[i];
      const beta = rho * dot(y, direction);
      for (let j = 0; j < n; j++) direction[j] += s[j] * (alphas[i] - beta);
    }
    for (let j = 0; j < n; j++) direction[j] = -direction[j];
    let slope = dot(gradient, direction);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      history.length = 0;
      for (let j = 0; j < n; j++) direction[j] = -gradient[j] * gamma;
      slope = dot(gradient, direction);
    }
    // Backtracking Armijo line search.
    let step = 1;
    const next = new Float64Array(n);
    const nextGradient = new Float64Array(n);
    let nextValue = Infinity;
    for (let tries = 0; tries < 40; tries++) {
      for (let j = 0; j < n; j++) next[j] = x[j] + step * direction[j];
      nextValue = objective(next, nextGradient);
      if (Number.isFinite(nextValue) && nextValue <= value + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(nextValue <= value)) return { x, value, iterations: iteration, converged: false };
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      s[j] = next[j] - x[j];
      y[j] = nextGradient[j] - gradient[j];
    }
    const sy = dot(s, y);
    // Keep only pairs with positive curvature (always, for a strictly convex objective, up to rounding).
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      history.push({ s, y, rho: 1 / sy });
      if (history.length > memory) history.shift();
    }
    const improvement = value - nextValue;
    x = next;
    gradient = nextGradient;
    value = nextValue;
    if (improvement <= relativeTolerance * Math.max(1, Math.abs(value)))
      return { x, value, iterations: iteration + 1, converged: true };
  }
  return { x, value, iterations: maxIterations, converged: maxAbs(gradient) < gradientTolerance };
}
