/**
 * Activation ranges for static quantization, measured by running the fp32 model on real preprocessed images.
 *
 * onnxruntime returns graph outputs only, and our ModelSession returns one output, so the model is instrumented:
 * every tensor to observe is flattened and concatenated (after a header holding each tensor's element count) into
 * a single extra output. Two passes over the images: min/max, then (for the robust methods) a histogram per
 * tensor. Methods follow onnxruntime's calibrators (`onnxruntime/quantization/calibrate.py`):
 * - 'minmax': the observed extremes;
 * - 'percentile': the two-sided percentile of the value histogram (default 99.999 %, ORT's default);
 * - 'entropy': the symmetric clipping threshold minimising KL(P‖Q) between the histogram and its 128-level
 *   quantization (TensorRT's method, as ORT implements it), intersected with the observed range.
 */
import { readFile } from 'node:fs/promises';
import { IMAGENET_PREPROCESSING, type Preprocessing } from '../../../worker/core/manifest/manifest.js';
import { type ImageCodec, imageToInput } from '../../../worker/core/model-input/image-input.js';
import type { InferenceBackend } from '../../../worker/core/inference/backend.js';
import { inputElements } from '../../../worker/core/preprocess/transform.js';
import { declaredDims, decodeModel, encodeModel, graphOf, intAttr, makeNode, Namer } from './graph.js';
import type { Range } from './params.js';
import { TensorDataType } from '../onnx/proto.js';

export type CalibrationMethod = 'minmax' | 'percentile' | 'entropy';

export interface CalibrationOptions {
  method?: CalibrationMethod;
  /** 'percentile': share of values kept, in percent (both tails together). Default 99.999. */
  percentile?: number;
  /** Histogram bins: default 2048 for 'percentile', 512 for 'entropy' (its search is quadratic in the bins). */
  bins?: number;
  /** 'entropy': quantized levels the KL search compares against. Default 128 (ORT's default). */
  quantizedBins?: number;
  /** Runs the instrumented fp32 model (ToolchainHost.cpuBackend); static recipes need one, weight-only ones not. */
  backend?: InferenceBackend;
}

/**
 * One calibration input: a preprocessed float32 NCHW batch. A bare Float32Array is a batch of whole images of the
 * model's static input shape (e.g. 3·224·224 values per image).
 */
export type CalibrationSample = Float32Array | { data: Float32Array; dims: number[] };

export class CalibrationError extends Error {
  constructor(
    readonly code: 'no-samples' | 'bad-sample' | 'unknown-tensor' | 'no-tensors' | 'no-backend',
    message: string,
  ) {
    super(message);
    this.name = 'CalibrationError';
  }
}

const OUTPUT_NAME = 'calibration_observations';

/**
 * The fp32 model with one output: [count_0 … count_{k−1}, values of tensor 0 …, values of tensor k−1] for the
 * given float tensors, per run.
 */
export function instrumentModel(fp32Onnx: Uint8Array, tensors: readonly string[]): Uint8Array {
  if (tensors.length === 0) throw new CalibrationError('no-tensors', 'nothing to calibrate');
  const model = decodeModel(fp32Onnx);
  const graph = graphOf(model);
  const known = new Set<string>([
    ...(graph.input ?? []).map((v) => v.name ?? ''),
    ...(graph.node ?? []).flatMap((n) => n.output ?? []),
  ]);
  for (const name of tensors) {
    if (!known.has(name)) throw new CalibrationError('unknown-tensor', `tensor '${name}' is not produced in the graph`);
  }
  const namer = new Namer(graph);
  const flatShape = namer.fresh('calibration_flat_shape');
  graph.initializer = [
    ...(graph.initializer ?? []),
    {
      name: flatShape,
      dataType: TensorDataType.INT64,
      dims: [2],
      rawData: new Uint8Array(new BigInt64Array([1n, -1n]).buffer),
    },
  ];
  const nodes = graph.node ?? [];
  const counts: string[] = [];
  const flats: string[] = [];
  for (const name of tensors) {
    const size = namer.fresh(`${name}_calibration_size`);
    const sizeFloat = namer.fresh(`${name}_calibration_size_float`);
    const sizeRow = namer.fresh(`${name}_calibration_size_row`);
    const flat = namer.fresh(`${name}_calibration_flat`);
    nodes.push(
      makeNode('Size', namer.fresh(`${size}_node`), [name], [size]),
      makeNode('Cast', namer.fresh(`${sizeFloat}_node`), [size], [sizeFloat], [intAttr('to', TensorDataType.FLOAT)]),
      makeNode('Reshape', namer.fresh(`${sizeRow}_node`), [sizeFloat, flatShape], [sizeRow]),
      makeNode('Reshape', namer.fresh(`${flat}_node`), [name, flatShape], [flat]),
    );
    counts.push(sizeRow);
    flats.push(flat);
  }
  const output = namer.fresh(OUTPUT_NAME);
  nodes.push(makeNode('Concat', namer.fresh(`${output}_node`), [...counts, ...flats], [output], [intAttr('axis', 1)]));
  graph.node = nodes;
  graph.output = [
    {
      name: output,
      type: {
        tensorType: { elemType: TensorDataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimParam: 'observations' }] } },
      },
    },
  ];
  return encodeModel(model);
}

function sampleDims(
  sample: CalibrationSample,
  inputDims: (number | undefined)[] | undefined,
): { data: Float32Array; dims: number[] } {
  if (!(sample instanceof Float32Array)) {
    const count = sample.dims.reduce((n, d) => n * d, 1);
    if (count !== sample.data.length)
      throw new CalibrationError(
        'bad-sample',
        `sample has ${sample.data.length} values for dims [${sample.dims.join(', ')}]`,
      );
    return sample;
  }
  const perImage = inputDims?.slice(1);
  if (!perImage || perImage.some((d) => d === undefined)) {
    throw new CalibrationError(
      'bad-sample',
      'the model input has no static image shape; pass samples as { data, dims }',
    );
  }
  const imageSize = (perImage as number[]).reduce((n, d) => n * d, 1);
  if (sample.length === 0 || sample.length % imageSize !== 0) {
    throw new CalibrationError(
      'bad-sample',
      `sample of ${sample.length} values is not a whole number of [${perImage.join(', ')}] images`,
    );
  }
  return { data: sample, dims: [sample.length / imageSize, ...(perImage as number[])] };
}

/** Runs every sample and hands each tensor's values to `observe`. */
async function observe(
  instrumented: Uint8Array,
  samples: readonly { data: Float32Array; dims: number[] }[],
  tensors: readonly string[],
  backend: InferenceBackend,
  visit: (tensorIndex: number, values: Float32Array) => void,
): Promise<void> {
  const session = await backend.load(instrumented);
  try {
    for (const sample of samples) {
      const { data } = await session.run(sample.data, sample.dims);
      let offset = tensors.length;
      for (let t = 0; t < tensors.length; t++) {
        const count = data[t];
        visit(t, data.subarray(offset, offset + count));
        offset += count;
      }
    }
  } finally {
    await session.release();
  }
}

/** Observed range (and, where asked, robust range) of each named float tensor over the calibration samples. */
export async function calibrateRanges(
  fp32Onnx: Uint8Array,
  tensors: readonly string[],
  samples: readonly CalibrationSample[],
  options: CalibrationOptions = {},
): Promise<Map<string, Range>> {
  if (samples.length === 0) throw new CalibrationError('no-samples', 'calibration needs at least one sample');
  const method = options.method ?? 'minmax';
  const graph = graphOf(decodeModel(fp32Onnx));
  const inputName =
    (graph.input ?? []).find((v) => !(graph.initializer ?? []).some((t) => t.name === v.name))?.name ?? '';
  const batches = samples.map((s) => sampleDims(s, declaredDims(graph, inputName)));
  const instrumented = instrumentModel(fp32Onnx, tensors);
  const { backend } = options;
  if (!backend) throw new CalibrationError('no-backend', 'calibration runs the model: pass calibration.backend');

  const mins = new Float64Array(tensors.length).fill(Infinity);
  const maxs = new Float64Array(tensors.length).fill(-Infinity);
  await observe(instrumented, batches, tensors, backend, (t, values) => {
    let min = mins[t];
    let max = maxs[t];
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    mins[t] = min;
    maxs[t] = max;
  });
  const observed = (t: number): Range => {
    if (!Number.isFinite(mins[t]) || !Number.isFinite(maxs[t])) {
      throw new CalibrationError(
        'bad-sample',
        `tensor '${tensors[t]}' took non-finite or no values during calibration`,
      );
    }
    return { min: mins[t], max: maxs[t] };
  };
  if (method === 'minmax') return new Map(tensors.map((name, t) => [name, observed(t)]));

  const bins = options.bins ?? (method === 'entropy' ? 512 : 2048);
  // 'entropy' histograms are symmetric around 0 (ORT): the KL search grows a window outward from the zero bin.
  const lows = tensors.map((_, t) =>
    method === 'entropy' ? -Math.max(Math.abs(mins[t]), Math.abs(maxs[t])) : mins[t],
  );
  const highs = tensors.map((_, t) =>
    method === 'entropy' ? Math.max(Math.abs(mins[t]), Math.abs(maxs[t])) : maxs[t],
  );
  const histograms = tensors.map(() => new Float64Array(bins));
  await observe(instrumented, batches, tensors, backend, (t, values) => {
    accumulateHistogram(histograms[t], values, lows[t], highs[t]);
  });
  const ranges = new Map<string, Range>();
  tensors.forEach((name, t) => {
    const range = observed(t);
    const histogram: Histogram = { counts: histograms[t], low: lows[t], high: highs[t] };
    const robust =
      method === 'percentile'
        ? percentileRange(histogram, options.percentile ?? 99.999)
        : entropyRange(histogram, options.quantizedBins ?? 128);
    // Never wider than what was seen.
    ranges.set(name, { min: Math.max(range.min, robust.min), max: Math.min(range.max, robust.max) });
  });
  return ranges;
}

export interface Histogram {
  counts: Float64Array;
  /** Left edge of bin 0 and right edge of the last bin. */
  low: number;
  high: number;
}

export function accumulateHistogram(counts: Float64Array, values: ArrayLike<number>, low: number, high: number): void {
  const bins = counts.length;
  const width = (high - low) / bins;
  if (!(width > 0)) {
    counts[Math.floor(bins / 2)] += values.length;
    return;
  }
  for (let i = 0; i < values.length; i++) {
    const bin = Math.floor((values[i] - low) / width);
    counts[bin < 0 ? 0 : bin >= bins ? bins - 1 : bin]++;
  }
}

function binEdge(h: Histogram, index: number): number {
  return h.low + ((h.high - h.low) * index) / h.counts.length;
}

/** ORT's asymmetric percentile: cut (100 − p)/2 % from each tail (np.searchsorted on the CDF). */
export function percentileRange(h: Histogram, percentile: number): Range {
  if (!(percentile > 0 && percentile <= 100)) throw new Error(`percentile ${percentile} is outside (0, 100]`);
  const total = h.counts.reduce((a, b) => a + b, 0);
  const cut = (100 - percentile) / 200;
  let cumulative = 0;
  let left = -1;
  let right = -1;
  for (let i = 0; i < h.counts.length; i++) {
    cumulative += h.counts[i] / total;
    if (left < 0 && cumulative >= cut) left = i;
    if (right < 0 && cumulative >= 1 - cut) right = i;
  }
  if (left < 0) left = 0;
  if (right < 0) right = h.counts.length - 1;
  // searchsorted returns the bin index; ORT takes that bin's left edge for both ends, we keep the right end's bin.
  return { min: binEdge(h, left), max: binEdge(h, right + 1) };
}

/** Replaces zeros by eps and takes the mass from the non-zero bins (ORT's smooth_distribution). */
function smooth(p: Float64Array, eps = 0.0001): Float64Array | undefined {
  let zeros = 0;
  for (const v of p) if (v === 0) zeros++;
  const nonZeros = p.length - zeros;
  if (nonZeros === 0) return undefined;
  const epsNonZero = (eps * zeros) / nonZeros;
  if (epsNonZero >= 1) return undefined;
  return p.map((v) => (v === 0 ? eps : v - epsNonZero));
}

/** scipy.stats.entropy(p, q): both normalised, Σ p·log(p/q). */
function klDivergence(p: Float64Array, q: Float64Array): number {
  const sp = p.reduce((a, b) => a + b, 0);
  const sq = q.reduce((a, b) => a + b, 0);
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] / sp;
    const qi = q[i] / sq;
    if (pi > 0) sum += pi * Math.log(pi / qi);
  }
  return sum;
}

/** ORT's get_entropy_threshold on a histogram symmetric around 0. */
export function entropyRange(h: Histogram, quantizedBins: number): Range {
  const bins = h.counts.length;
  const zeroBin = Math.floor(bins / 2);
  const halfQuantized = Math.floor(quantizedBins / 2);
  const prefix = new Float64Array(bins + 1);
  for (let j = 0; j < bins; j++) prefix[j + 1] = prefix[j] + h.counts[j];
  let best = { divergence: Infinity, range: { min: h.low, max: h.high } };
  for (let i = halfQuantized; i <= zeroBin; i++) {
    const start = zeroBin - i;
    const end = Math.min(zeroBin + i + 1, bins);
    const sliced = h.counts.slice(start, end);
    const p = Float64Array.from(sliced);
    p[0] += prefix[start];
    p[p.length - 1] += prefix[bins] - prefix[end];
    const merged = Math.floor(sliced.length / quantizedBins);
    const quantized = new Float64Array(quantizedBins);
    for (let b = 0; b < quantizedBins; b++)
      for (let j = b * merged; j < (b + 1) * merged; j++) quantized[b] += sliced[j];
    for (let j = quantizedBins * merged; j < sliced.length; j++) quantized[quantizedBins - 1] += sliced[j];
    const q = new Float64Array(p.length);
    for (let b = 0; b < quantizedBins; b++) {
      let norm = 0;
      for (let j = b * merged; j < (b + 1) * merged; j++) if (p[j] !== 0) norm++;
      if (norm === 0) continue;
      for (let j = b * merged; j < (b + 1) * merged; j++) if (p[j] !== 0) q[j] = quantized[b] / norm;
    }
    const ps = smooth(p);
    const qs = smooth(q);
    const divergence = ps && qs ? klDivergence(ps, qs) : Infinity;
    if (divergence < best.divergence) best = { divergence, range: { min: binEdge(h, start), max: binEdge(h, end) } };
  }
  return best.range;
}

/** Large enough for any photo we calibrate on; the service's own limit is enforced in the service. */
const CALIBRATION_MAX_PIXELS = 50_000_000;

/**
 * Image files → model inputs, through the service's own decoder and eval preprocessing (so calibration sees
 * exactly what the served model will see). One Float32Array (3·crop·crop) per file, in order.
 */
export async function preprocessImageFiles(
  files: readonly string[],
  codec: ImageCodec,
  preprocessing: Preprocessing = IMAGENET_PREPROCESSING,
): Promise<Float32Array[]> {
  const support = codec;
  const images: Float32Array[] = [];
  for (const file of files) {
    const input = new Float32Array(inputElements(preprocessing));
    await imageToInput(support, new Uint8Array(await readFile(file)), preprocessing, input, 0, {
      maxPixels: CALIBRATION_MAX_PIXELS,
    });
    images.push(input);
  }
  return images;
}

/**
 * The calibration / held-out split of an ordered image list: even positions calibrate, odd positions are held out
 * for evaluation — every class of a one-image-per-class sample lands on one side only, and both sides span the
 * class range. (imagenet-sample's 63 files sorted by name: 32 calibration, 31 held out.)
 */
export function splitCalibrationSet<T>(items: readonly T[]): { calibration: T[]; heldOut: T[] } {
  return { calibration: items.filter((_, i) => i % 2 === 0), heldOut: items.filter((_, i) => i % 2 === 1) };
}
