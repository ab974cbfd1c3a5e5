/** What every image operation (classify, embed, …) accepts, can fail with and answers in its headers. */
import type { Json } from './operation.js';
import type { ProblemCode } from './problems.js';

/** The multipart field a batch's images come in. */
export const IMAGE_FIELD = 'image';

/** Problems any image operation can answer: bad input, limits, fetching by URL, the model, the GPU origin. */
export const IMAGE_PROBLEMS: readonly ProblemCode[] = [
  'bad-parameter',
  'empty-body',
  'malformed-body',
  'url-not-allowed',
  'unknown-model',
  'body-too-large',
  'too-many-pixels',
  'image-too-complex',
  'batch-too-large',
  'unsupported-content-type',
  'unsupported-format',
  'corrupt-image',
  'fetch-failed',
  'fetch-timeout',
  'model-unavailable',
  'overloaded',
  'origin-unavailable',
  'origin-timeout',
  'origin-error',
];

/** One image as the raw body, a multipart batch, or image URLs (the JSON schema comes from ImageUrlsBody). */
export const IMAGE_REQUEST_BODY: Json = {
  required: true,
  content: {
    'image/*': { schema: { type: 'string', contentMediaType: 'image/*' } },
    'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } },
    'multipart/form-data': {
      schema: {
        type: 'object',
        required: [IMAGE_FIELD],
        properties: { [IMAGE_FIELD]: { type: 'array', items: { type: 'string', contentMediaType: 'image/*' } } },
      },
      encoding: { [IMAGE_FIELD]: { contentType: 'image/*, application/octet-stream' } },
    },
    'application/json': {
      examples: {
        url: { value: { url: 'https://images.example.com/cat.jpg' } },
        urls: { value: { urls: ['https://images.example.com/cat.jpg', 'https://images.example.com/dog.jpg'] } },
      },
    },
  },
};

/** A header has no validator (any Cache-Control is read), so it is described here. */
export const CACHE_CONTROL_PARAMETER: Json = {
  name: 'Cache-Control',
  in: 'header',
  description: 'no-cache: compute afresh and store; no-store: neither read nor store the result cache',
  schema: { type: 'string' },
};

export const ANSWER_HEADERS: Json = {
  'X-Cache': { description: 'hit or miss (one-image requests, result cache on)', schema: { enum: ['hit', 'miss'] } },
  'Server-Timing': { description: 'the stages of timing', schema: { type: 'string' } },
  Fallback: {
    description: "an edge model answered in a GPU origin model's place: model; requested=…; reason=…",
    schema: { type: 'string' },
  },
};
