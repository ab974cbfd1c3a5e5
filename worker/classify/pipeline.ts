/**
 * One classify call: every image is decoded and preprocessed into one NCHW batch tensor, one session call
 * runs the batch, and each image gets its top-k. An image that fails gets its own error; the others still run.
 */
import type { Preprocessing } from '../../models/manifest.js';
import type { RgbImage } from '../image/types.js';
import { ApiError } from '../errors.js';
import type { Clock } from '../http/timing.js';
import type { LoadedModel } from '../models/registry.js';
import { topK, type Prediction } from './top-k.js';

/** What an image may take: checked on its header, before decoding. */
export interface DecodeLimits {
  /** Largest width × height. */
  maxPixels: number;
  /** Most memory its decode may take (the decoder's statement from the header). Absent: no budget. */
  maxDecodeBytes?: number;
}

/**
 * What classification needs from the image modules; bound to them in image-support.ts. Both throw ApiError
 * (ImageError) for images they cannot take: unsupported-format, corrupt-image, too-many-pixels.
 */
export interface ImageSupport {
  /**
   * Upright RGB. Rejects an image over the limits from its header, before decoding. May return a large image already
   * reduced, never below 2× `resizeShortSide` on the short side (the preprocessing's own resize does the rest).
   */
  decode(bytes: Uint8Array, limits: DecodeLimits & { resizeShortSide: number }): Promise<RgbImage>;
  /** Writes the model's input for one image, NCHW float32, into `out` at element `offset`. */
  preprocess(image: RgbImage, preprocessing: Preprocessing, out: Float32Array, offset: number): void;
  /** Runs one image's decode and preprocess while no other image of this instance is between the two. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
}

export interface ImageTiming {
  /** Waiting for the decode gate (another request's image being decoded). */
  decode_wait_ms: number;
  decode_ms: number;
  preprocess_ms: number;
}

export type ImageOutcome =
  | {
      ok: true;
      predictions: Prediction[];
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
 * The decoders report bad input as ImageError. Anything else they throw was still caused by this input (a decoder
 * bug or a limit of the library), so it is reported as undecodable rather than failing the request with a 500.
 */
async function decodeOrReject(
  support: ImageSupport,
  bytes: Uint8Array,
  limits: DecodeLimits & { resizeShortSide: number },
): Promise<RgbImage> {
  try {
    return await support.decode(bytes, limits);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    console.error('image decoder threw a non-ImageError', error);
    const reason = error instanceof Error ? error.message : String(error);
    throw new ApiError('corrupt-image', `the image cannot be decoded: ${reason}`, { cause: error });
  }
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
}): Promise<BatchOutcome> {
  const { images, support, clock, preprocessing, inputSize, maxPixels, maxDecodeBytes } = options;
  const limits = { maxPixels, maxDecodeBytes, resizeShortSide: preprocessing.resizeShortSide };
  const imageElements = 3 * inputSize * inputSize;
  // Sized for the whole batch up front; images that fail leave their rows unused at the end.
  const tensor = new Float32Array(images.length * imageElements);
  const slots: ({ row: number; timing: ImageTiming } | { error: ApiError })[] = [];
  let rows = 0;

  for (const bytes of images) {
    try {
      if (bytes.byteLength === 0) throw new ApiError('empty-body', 'the image is empty');
      const row = rows;
      // Timed inside the gate: waiting for another request's image is not this one's decode time.
      const queued = clock();
      const timing = await support.exclusive(async (): Promise<ImageTiming> => {
        const started = clock();
        let decoded: RgbImage | undefined = await decodeOrReject(support, bytes, limits);
        const decodedAt = clock();
        support.preprocess(decoded, preprocessing, tensor, row * imageElements);
        decoded = undefined; // the full-size pixels can be collected before the next image is decoded
        return { decode_wait_ms: started - queued, decode_ms: decodedAt - started, preprocess_ms: clock() - decodedAt };
      });
      slots.push({ row: rows++, timing });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      slots.push({ error });
    }
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
      if (error instanceof ApiError) throw error; // e.g. a batching queue that is full
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError('model-unavailable', `running ${model.entry.name} failed: ${reason}`, {
        extensions: { model: model.entry.name },
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

  const outcomes = slots.map((slot): ImageOutcome => {
    if ('error' in slot) return { ok: false, error: slot.error };
    const row = logits.subarray(slot.row * model.classes, (slot.row + 1) * model.classes);
    const predictions = topK(row, options.topK, model.labels);
    const input = options.keepInputs
      ? tensor.subarray(slot.row * imageElements, (slot.row + 1) * imageElements)
      : undefined;
    return { ok: true, predictions, timing: slot.timing, ...(input ? { input } : {}) };
  });
  return { images: outcomes, inference_ms: inferenceMs, model_wait_ms: modelWaitMs, model };
}
