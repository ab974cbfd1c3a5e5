/**
 * POST /v1/embed: the same inputs and limits as /v1/classify, answered with each image's embedding — the model's
 * pooled features before the classifier head, L2-normalised, so a dot product of two is their cosine similarity.
 */
import * as v from 'valibot';
import { FailedImage, FallbackReport, ImageSlot, ModelId } from './common.js';
import { ANSWER_HEADERS, CACHE_CONTROL_PARAMETER, IMAGE_PROBLEMS, IMAGE_REQUEST_BODY } from './image-request.js';
import { ImageUrlsBody } from './image-urls.js';
import type { RouteOperation } from './operation.js';
import { fallbackParam, modelParam, shown } from './params.js';
import { Timing } from './timing.js';

export const EMBED_ENCODINGS = ['json', 'base64'] as const;
export type EmbedEncoding = (typeof EMBED_ENCODINGS)[number];

export const EmbedQuery = v.object({
  model: modelParam,
  encoding: v.optional(
    v.pipe(
      v.picklist(EMBED_ENCODINGS, (issue) => `encoding must be json or base64, got ${shown(issue.input)}`),
      v.description('json: float32 values as numbers; base64: their little-endian bytes'),
    ),
    'json',
  ),
  fallback: fallbackParam,
});

const Embedding = v.union([
  v.pipe(v.array(v.number()), v.description('float32 values, L2-normalised')),
  v.pipe(
    v.string(),
    v.metadata({ contentEncoding: 'base64' }),
    v.description('encoding=base64: little-endian float32 bytes'),
  ),
]);

/** What embedding one image answers besides its timing (the result cache keeps exactly this). */
export const EmbeddedImage = { embedding: Embedding };

/** Every embed answer's own members. */
const EmbedCommon = {
  model: ModelId,
  dims: v.pipe(v.number(), v.integer(), v.minValue(1)),
  encoding: v.optional(v.literal('base64')),
};

export const EmbedResult = v.strictObject({
  ...EmbedCommon,
  ...EmbeddedImage,
  timing: Timing,
  fallback: v.optional(FallbackReport),
});
export type EmbedResult = v.InferOutput<typeof EmbedResult>;

export const EmbedBatchResult = v.strictObject({
  ...EmbedCommon,
  results: v.pipe(
    v.array(v.union([v.strictObject({ ...ImageSlot, ...EmbeddedImage }), FailedImage])),
    v.description('one per image, in request order'),
  ),
  timing: Timing,
  fallback: v.optional(FallbackReport),
});
export type EmbedBatchResult = v.InferOutput<typeof EmbedBatchResult>;

export const embedOperation: RouteOperation = {
  method: 'post',
  path: '/v1/embed',
  auth: true,
  query: EmbedQuery,
  jsonBody: ImageUrlsBody,
  answer: v.union([EmbedResult, EmbedBatchResult]),
  problems: [...IMAGE_PROBLEMS, 'no-embedding'],
  operation: {
    operationId: 'embed',
    summary: "Each image's embedding: the pooled features before the classifier head, L2-normalised",
    parameters: [CACHE_CONTROL_PARAMETER],
    requestBody: IMAGE_REQUEST_BODY,
    responses: {
      '200': {
        description: 'One image: EmbedResult. A batch (multipart or urls): EmbedBatchResult, in request order.',
        headers: ANSWER_HEADERS,
      },
    },
  },
};
