/** POST /v1/classify: its query, its answers and its description, the one source of all three. */
import * as v from 'valibot';
import { FailedImage, FallbackReport, ImageSlot, ModelId, Prediction } from './common.js';
import { ANSWER_HEADERS, CACHE_CONTROL_PARAMETER, IMAGE_PROBLEMS, IMAGE_REQUEST_BODY } from './image-request.js';
import { ImageUrlsBody } from './image-urls.js';
import type { RouteOperation } from './operation.js';
import { fallbackParam, includeParam, modelParam, topKParam } from './params.js';
import { problemStatus, problemTitle, problemType } from './problems.js';
import { Timing } from './timing.js';

export const ClassifyQuery = v.object({
  model: modelParam,
  top_k: topKParam,
  include: includeParam,
  fallback: fallbackParam,
});

/** include=input: the crop the model saw. */
const Input = v.pipe(
  v.string(),
  v.regex(/^data:image\/png;base64,/),
  v.description('include=input: the 224×224 crop the model saw, as a PNG data: URL'),
);

/** What classifying one image answers besides its timing (the result cache keeps exactly this). */
export const ClassifiedImage = {
  predictions: v.pipe(v.array(Prediction), v.description('best first, top_k of them')),
  input: v.optional(Input),
};

/** One image (a raw body or `{url}`). */
export const ClassifyResult = v.strictObject({
  model: ModelId,
  ...ClassifiedImage,
  timing: Timing,
  fallback: v.optional(FallbackReport),
});
export type ClassifyResult = v.InferOutput<typeof ClassifyResult>;

/** A batch (multipart `image` fields or `{urls}`): one result per image, in request order. */
export const BatchResult = v.strictObject({
  model: ModelId,
  results: v.pipe(
    v.array(v.union([v.strictObject({ ...ImageSlot, ...ClassifiedImage }), FailedImage])),
    v.description('one per image, in request order'),
  ),
  timing: Timing,
  fallback: v.optional(FallbackReport),
});
export type BatchResult = v.InferOutput<typeof BatchResult>;
export type BatchItem = BatchResult['results'][number];

const EXAMPLE_PREDICTIONS = [
  { index: 281, synset: 'n02123045', label: 'tabby, tabby cat', score: 0.83 },
  { index: 282, synset: 'n02123159', label: 'tiger cat', score: 0.09 },
];
const EXAMPLE_TIMING = {
  decode_wait_ms: 0,
  decode_ms: 11.2,
  preprocess_ms: 3.1,
  model_wait_ms: 0,
  inference_ms: 24.5,
  total_ms: 39.4,
};

export const classifyOperation: RouteOperation = {
  method: 'post',
  path: '/v1/classify',
  auth: true,
  query: ClassifyQuery,
  jsonBody: ImageUrlsBody,
  answer: v.union([ClassifyResult, BatchResult]),
  problems: IMAGE_PROBLEMS,
  operation: {
    operationId: 'classify',
    summary: 'Classify one image (raw body or {url}) or a batch (multipart image fields or {urls})',
    parameters: [CACHE_CONTROL_PARAMETER],
    requestBody: IMAGE_REQUEST_BODY,
    responses: {
      '200': {
        description:
          'One image: ClassifyResult. A batch (multipart or urls): BatchResult, one result per image in order.',
        headers: ANSWER_HEADERS,
        content: {
          'application/json': {
            examples: {
              single: {
                value: { model: 'efficientvit_m0.int8', predictions: EXAMPLE_PREDICTIONS, timing: EXAMPLE_TIMING },
              },
              batch: {
                value: {
                  model: 'efficientvit_m0.int8',
                  results: [
                    {
                      filename: 'cat.jpg',
                      predictions: EXAMPLE_PREDICTIONS,
                      timing: { decode_wait_ms: 0, decode_ms: 9.8, preprocess_ms: 2.9 },
                    },
                    {
                      filename: 'notes.txt',
                      error: {
                        type: problemType('unsupported-format'),
                        title: problemTitle('unsupported-format'),
                        status: problemStatus('unsupported-format'),
                        detail: 'the image is not JPEG, PNG, WebP or GIF',
                        code: 'unsupported-format',
                      },
                    },
                  ],
                  timing: EXAMPLE_TIMING,
                },
              },
            },
          },
        },
      },
    },
  },
};
