/**
 * How long a request took, stage by stage: the `timing` member of every answer and the Server-Timing header carry
 * the same stages (milliseconds, 0.01 ms resolution).
 */
import * as v from 'valibot';

/** The stages of a computed answer, in the order they happen, with their Server-Timing metric names. */
export const STAGES = Object.freeze({
  fetch_ms: 'fetch',
  decode_wait_ms: 'decode-wait',
  decode_ms: 'decode',
  preprocess_ms: 'preprocess',
  model_wait_ms: 'model-wait',
  model_read_ms: 'model-read',
  integrity_ms: 'integrity',
  session_ms: 'session',
  inference_ms: 'inference',
  cache_ms: 'cache',
  origin_ms: 'origin',
  hop_ms: 'hop',
  total_ms: 'total',
});
export type Stage = keyof typeof STAGES;

const ms = (description: string) => v.pipe(v.number(), v.minValue(0), v.description(description));

/**
 * A request's stages. A computed answer has the decode, model and inference stages; a result-cache hit only cache_ms
 * and total_ms; an answer the GPU origin computed adds origin_ms (its own total) and hop_ms (the rest of the trip).
 */
export const Timing = v.pipe(
  v.strictObject({
    fetch_ms: v.optional(ms('classify by URL: fetching the image(s), redirects included')),
    decode_wait_ms: v.optional(ms("waiting for other requests' images to be decoded first")),
    decode_ms: v.optional(ms('decoding, summed over the images')),
    preprocess_ms: v.optional(ms('the eval transform, summed over the images')),
    model_wait_ms: v.optional(
      ms("from asking for the model to holding it: 0 when loaded; a load's or a switch's wait"),
    ),
    model_read_ms: v.optional(ms('the request that loaded the model: reading its file')),
    integrity_ms: v.optional(ms("the request that loaded the model: checking the file's sha256")),
    session_ms: v.optional(ms('the request that loaded the model: creating the inference session')),
    inference_ms: v.optional(ms('the one session call for the whole batch')),
    cache_ms: v.optional(ms('a result-cache hit: looking the answer up')),
    origin_ms: v.optional(ms("forwarded: the GPU origin's own total")),
    hop_ms: v.optional(ms('forwarded: the rest of the round trip to the origin (network, upload)')),
    total_ms: ms('the whole request, as this host saw it'),
  }),
  v.description('milliseconds, 0.01 ms resolution; the same stages go out as Server-Timing'),
);
export type Timing = v.InferOutput<typeof Timing>;

/** One image's own stages inside a batch answer. */
export const ImageTiming = v.strictObject({
  decode_wait_ms: ms("waiting for other requests' images"),
  decode_ms: ms('decoding this image'),
  preprocess_ms: ms('the eval transform of this image'),
});
export type ImageTiming = v.InferOutput<typeof ImageTiming>;
