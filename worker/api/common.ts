/** Pieces the answers of several operations share. */
import * as v from 'valibot';
import { Problem } from './problems.js';
import { ImageTiming } from './timing.js';

/** One class of a model's answer, best first. */
export const Prediction = v.strictObject({
  index: v.pipe(v.number(), v.integer(), v.minValue(0), v.description("the model's output index")),
  label: v.string(),
  synset: v.optional(v.pipe(v.string(), v.description('WordNet id (ImageNet label sets only)'))),
  score: v.pipe(v.number(), v.minValue(0), v.maxValue(1), v.description('softmax probability over all classes')),
});
export type Prediction = v.InferOutput<typeof Prediction>;

/** Which input a batch result answers: the multipart part's file name, or the image URL. */
export const ImageSource = {
  filename: v.optional(v.string()),
  url: v.optional(v.string()),
};

/** A batch slot whose image failed: the problem it would have been answered with alone. */
export const FailedImage = v.strictObject({ ...ImageSource, error: Problem });
export type FailedImage = v.InferOutput<typeof FailedImage>;

/** A batch slot's successful part: its own stages besides the task's fields. */
export const ImageSlot = { ...ImageSource, timing: ImageTiming };

export const ModelId = v.pipe(v.string(), v.description("the model's stable id, e.g. efficientvit_m0.int8"));

/** Which edge model answered in a GPU origin model's place, and why (`fallback=`, ORIGIN_FALLBACK). */
export const FallbackReport = v.strictObject({
  model: v.pipe(v.string(), v.description('the edge model that answered')),
  requested: v.pipe(v.string(), v.description('the origin model the request named')),
  reason: v.pipe(v.string(), v.description('the origin fault: origin-unavailable, origin-timeout or origin-error')),
  detail: v.string(),
});
export type FallbackReport = v.InferOutput<typeof FallbackReport>;
