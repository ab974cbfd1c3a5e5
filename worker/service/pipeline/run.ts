/**
 * One classify call: every image is decoded and preprocessed into one NCHW batch tensor, one session call
 * runs the batch, and each image gets its top-k. An image that fails gets its own error; the others still run.
 */
import type { Preprocessing } from '../../core/manifest/manifest.js';
import { CodedError } from '../../core/errors.js';
import { ApiError, apiError } from '../problems.js';
import type { ImageJob, ImageSupport, ImageTiming } from '../../core/model-input/image-input.js';
import type { Clock } from '../http/timing.js';
import type { OutputTensor } from '../../core/inference/backend.js';
import type { LoadedModel } from '../registry/registry.js';
import { topK, type Prediction } from '../../core/postprocess/top-k.js';

export type ImageOutcome =
  | {
      ok: true;
      predictions: Prediction[];
      /** The L2-normalised pooled features; only with `embed` (then `predictions` is empty). */
      embedding?: Float32Array;
      timing: ImageTiming;
      /** The image's row of the model input (a view of the batch tensor); only with `keepInputs`. */
      input?: Float32Array;
    }
  | { ok: false; error: ApiError };

export interface BatchOutcome {
  images: ImageOutcome[];
  /** One session call for the whole batch; 0 when no image reached the model. */
  inference_ms: number;
  /** From asking for the model to holding it: its load, or waiting for another request's load or a switch. */
  model_wait_ms: number;
  /** The model as this request got it (absent when no image reached the model). */
  model?: LoadedModel;
}

/**
 * `model` is called once the first image is ready for it, and not at all when no image is: a request whose images all
 * fail never starts a model load (in workerd, a load left running by a request that already answered is cancelled
 * with it). Load failures (503) propagate to the caller, since they concern the whole request.
 */
export async function classifyImages(options: {
  images: readonly Uint8Array[];
  model: () => Promise<LoadedModel>;
  preprocessing: Preprocessing;
  inputSize: number;
  topK: number;
  maxPixels: number;
  /** Most memory one image's decode may take; absent: no budget. */
  maxDecodeBytes?: number;
  support: ImageSupport;
  clock: Clock;
  /** Hand back each image's model input (for `include=input`). */
  keepInputs?: boolean;
  /** Answer with each image's embedding (the model's second output, L2-normalised) instead of its top-k. */
  embed?: boolean;
}): Promise<BatchOutcome> {
  const { images, support, clock, preprocessing, inputSize, maxPixels, maxDecodeBytes } = options;
  const job: ImageJob = {
    limits: { maxPixels, maxDecodeBytes, resizeShortSide: preprocessing.resizeShortSide },
    preprocessing,
  };
  const imageElements = 3 * inputSize * inputSize;
  // Sized for the whole batch up front; image i is written to row i, and failed images' rows are squeezed out below.
  const tensor = support.allocate(images.length * imageElements);
  const written: ({ timing: ImageTiming } | { error: ApiError })[] = new Array(images.length);
  let next = 0;
  const writeNext = async (): Promise<void> => {
    while (next < images.length) {
      const index = next++;
      try {
        const bytes = images[index];
        if (bytes.byteLength === 0) throw new ApiError('empty-body', 'the image is empty');
        written[index] = { timing: await support.write(bytes, job, tensor, index * imageElements, clock) };
      } catch (error) {
        if (!(error instanceof CodedError)) throw error;
        written[index] = { error: apiError(error) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(support.parallel, images.length) }, writeNext));

  const slots: ({ row: number; timing: ImageTiming } | { error: ApiError })[] = [];
  let rows = 0;
  for (const [index, result] of written.entries()) {
    if ('error' in result) {
      slots.push(result);
      continue;
    }
    if (index !== rows) tensor.copyWithin(rows * imageElements, index * imageElements, (index + 1) * imageElements);
    slots.push({ row: rows++, timing: result.timing });
  }
  if (rows === 0) {
    return {
      images: slots.map((slot) => ({ ok: false, error: (slot as { error: ApiError }).error })),
      inference_ms: 0,
      model_wait_ms: 0,
    };
  }

  const modelAsked = clock();
  const model = await options.model();
  const modelWaitMs = clock() - modelAsked;
  const inferenceStarted = clock();
  const output = await model.session
    .run(tensor.subarray(0, rows * imageElements), [rows, 3, inputSize, inputSize])
    .catch((error: unknown) => {
      if (error instanceof CodedError) throw error; // e.g. a batching queue that is full
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError('model-unavailable', `running ${model.entry.name} failed: ${reason}`, {
        details: { model: model.entry.name },
        cause: error,
      });
    });
  const inferenceMs = clock() - inferenceStarted;
  if (output.dims.length !== 2 || output.dims[0] !== rows || output.dims[1] !== model.classes) {
    throw new ApiError(
      'model-unavailable',
      `model ${model.entry.name} returned logits of shape [${output.dims}], expected [${rows}, ${model.classes}]`,
    );
  }
  if (!output.data.every(Number.isFinite)) {
    throw new ApiError('model-unavailable', `model ${model.entry.name} returned non-finite logits`);
  }
  const logits = output.data;
  const embeddings = options.embed ? checkedEmbeddings(model, output.embedding, rows) : undefined;

  const outcomes = slots.map((slot): ImageOutcome => {
    if ('error' in slot) return { ok: false, error: slot.error };
    const row = logits.subarray(slot.row * model.classes, (slot.row + 1) * model.classes);
    if (embeddings) return { ok: true, predictions: [], embedding: embeddings[slot.row], timing: slot.timing };
    const predictions = topK(row, options.topK, model.labels);
    const input = options.keepInputs
      ? tensor.subarray(slot.row * imageElements, (slot.row + 1) * imageElements)
      : undefined;
    return { ok: true, predictions, timing: slot.timing, ...(input ? { input } : {}) };
  });
  return { images: outcomes, inference_ms: inferenceMs, model_wait_ms: modelWaitMs, model };
}

/** The embedding rows of a run, each scaled to unit L2 norm; a model without the output is the request's 501. */
function checkedEmbeddings(model: LoadedModel, embedding: OutputTensor | undefined, rows: number): Float32Array[] {
  const dims = model.entry.embedding?.shape[1];
  if (!embedding || dims === undefined) {
    throw new ApiError('no-embedding', `model ${model.entry.name} was built without an embedding output; rebuild it`, {
      details: { model: model.entry.name },
    });
  }
  if (embedding.dims.length !== 2 || embedding.dims[0] !== rows || embedding.dims[1] !== dims) {
    throw new ApiError(
      'model-unavailable',
      `model ${model.entry.name} returned an embedding of shape [${embedding.dims}], expected [${rows}, ${dims}]`,
    );
  }
  return Array.from({ length: rows }, (_, row) => l2Normalized(embedding.data.subarray(row * dims, (row + 1) * dims)));
}

/** A copy of `v` with unit L2 norm (summed in float64); all zeros stays all zeros. */
export function l2Normalized(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  return Float32Array.from(v, (x) => x * scale);
}
