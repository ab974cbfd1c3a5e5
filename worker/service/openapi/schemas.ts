/** The response bodies' schemas (components.schemas), from the same constants the handlers use. */
import { SERVER_TIMING_NAMES } from '../http/timing.js';
import { PROBLEM_SCHEMA, ref } from './problems.js';
import type { Json } from './types.js';

const ms: Json = { type: 'number', minimum: 0 };
const stageNames = Object.keys(SERVER_TIMING_NAMES);

const PREDICTION: Json = {
  type: 'object',
  required: ['index', 'synset', 'label', 'score'],
  additionalProperties: false,
  properties: {
    index: { type: 'integer', minimum: 0, description: "the model's output index" },
    synset: { type: 'string', description: 'WordNet id' },
    label: { type: 'string' },
    score: { type: 'number', minimum: 0, maximum: 1, description: 'softmax probability over all classes' },
  },
};

/** A computed answer's stages (also sent as Server-Timing), or a cache hit's cache_ms and total_ms. */
const TIMING: Json = {
  type: 'object',
  description: 'milliseconds, 0.01 ms resolution',
  required: ['total_ms'],
  additionalProperties: false,
  properties: Object.fromEntries([...stageNames, 'cache_ms'].map((name) => [name, ms])),
};

const IMAGE_TIMING: Json = {
  type: 'object',
  required: ['decode_wait_ms', 'decode_ms', 'preprocess_ms'],
  additionalProperties: false,
  properties: { decode_wait_ms: ms, decode_ms: ms, preprocess_ms: ms },
};

const INPUT: Json = {
  type: 'string',
  pattern: '^data:image/png;base64,',
  description: 'include=input: the 224×224 crop the model saw, as a PNG data: URL',
};

const CLASSIFY_RESULT: Json = {
  type: 'object',
  required: ['model', 'predictions', 'timing'],
  additionalProperties: false,
  properties: {
    model: { type: 'string', description: "the model's stable id" },
    predictions: { type: 'array', items: ref('schemas', 'Prediction') },
    timing: ref('schemas', 'Timing'),
    input: INPUT,
  },
};

const BATCH_ITEM: Json = {
  type: 'object',
  additionalProperties: false,
  properties: {
    filename: { type: 'string' },
    url: { type: 'string' },
    predictions: { type: 'array', items: ref('schemas', 'Prediction') },
    timing: IMAGE_TIMING,
    input: INPUT,
    error: ref('schemas', 'Problem'),
  },
  oneOf: [{ required: ['predictions', 'timing'] }, { required: ['error'] }],
};

const BATCH_RESULT: Json = {
  type: 'object',
  required: ['model', 'results', 'timing'],
  additionalProperties: false,
  properties: {
    model: { type: 'string' },
    results: { type: 'array', items: BATCH_ITEM, description: 'one per image, in request order' },
    timing: ref('schemas', 'Timing'),
  },
};

const EMBEDDING: Json = {
  oneOf: [
    { type: 'array', items: { type: 'number' }, description: 'float32 values, L2-normalised' },
    { type: 'string', contentEncoding: 'base64', description: 'encoding=base64: little-endian float32 bytes' },
  ],
};

const EMBED_RESULT: Json = {
  type: 'object',
  required: ['model', 'dims', 'embedding', 'timing'],
  additionalProperties: false,
  properties: {
    model: { type: 'string', description: "the model's stable id" },
    dims: { type: 'integer', minimum: 1 },
    encoding: { const: 'base64' },
    embedding: EMBEDDING,
    timing: ref('schemas', 'Timing'),
  },
};

const EMBED_BATCH_RESULT: Json = {
  type: 'object',
  required: ['model', 'dims', 'results', 'timing'],
  additionalProperties: false,
  properties: {
    model: { type: 'string' },
    dims: { type: 'integer', minimum: 1 },
    encoding: { const: 'base64' },
    results: {
      type: 'array',
      description: 'one per image, in request order',
      items: {
        type: 'object',
        additionalProperties: false,
        properties: {
          filename: { type: 'string' },
          url: { type: 'string' },
          embedding: EMBEDDING,
          timing: IMAGE_TIMING,
          error: ref('schemas', 'Problem'),
        },
        oneOf: [{ required: ['embedding', 'timing'] }, { required: ['error'] }],
      },
    },
    timing: ref('schemas', 'Timing'),
  },
};

const PREPROCESSING: Json = {
  type: 'object',
  required: ['resizeShortSide', 'interpolation', 'centerCrop', 'mean', 'std', 'colorSpace', 'layout'],
  properties: {
    resizeShortSide: { type: 'integer' },
    interpolation: { type: 'string' },
    centerCrop: { type: 'integer' },
    mean: { type: 'array', items: { type: 'number' }, minItems: 3, maxItems: 3 },
    std: { type: 'array', items: { type: 'number' }, minItems: 3, maxItems: 3 },
    colorSpace: { type: 'string' },
    layout: { type: 'string' },
  },
};

const MODEL: Json = {
  type: 'object',
  required: ['name', 'id', 'variant', 'precision', 'bytes', 'sha256', 'source', 'input', 'labels', 'classes'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', description: 'the API name (?model=)' },
    id: { type: 'string' },
    variant: { type: 'string' },
    precision: { type: 'string', enum: ['fp32', 'int8', 'fp16'] },
    bytes: { type: 'integer', minimum: 0 },
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    source: {
      type: 'object',
      required: ['checkpoint', 'sha256', 'format', 'kind', 'note'],
      properties: {
        checkpoint: { type: 'string' },
        sha256: { type: 'string' },
        format: { type: 'string', enum: ['pth', 'safetensors'] },
        kind: { type: 'string', enum: ['synthetic-fixture', 'checkpoint'] },
        note: { type: 'string' },
      },
    },
    input: {
      type: 'object',
      required: ['name', 'shape', 'dtype'],
      properties: { name: { type: 'string' }, shape: { type: 'array' }, dtype: { const: 'float32' } },
    },
    labels: { type: 'string' },
    classes: { type: 'integer', minimum: 1 },
    preprocessing: PREPROCESSING,
    default: { type: 'boolean' },
    loaded: { type: 'boolean', description: 'whether this instance has created the session' },
    embedding_dims: {
      type: ['integer', 'null'],
      description: 'width of /v1/embed answers; null: built without the embedding output',
    },
    runs: { enum: ['edge', 'origin'], description: 'edge: this instance; origin: forwarded to the GPU origin' },
    available: { type: 'boolean', description: 'false: an origin model while the origin cannot be reached' },
    reason: { type: 'string', description: 'why an origin model is unavailable' },
  },
};

const MODELS: Json = {
  type: 'object',
  required: ['backend', 'default', 'models'],
  additionalProperties: false,
  properties: {
    backend: { type: 'string' },
    execution: { type: 'object', description: 'Node build only: device, why, threads, batching' },
    default: { type: 'string' },
    models: { type: 'array', items: ref('schemas', 'Model') },
    origin: {
      type: 'object',
      description: 'edge with GPU_ORIGIN: whether the origin answered its listing',
      required: ['available'],
      properties: {
        available: { type: 'boolean' },
        reason: { type: 'string' },
        backend: { type: 'string' },
        execution: { type: 'object' },
      },
    },
  },
};

export const COMPONENT_SCHEMAS: Record<string, Json> = {
  Problem: PROBLEM_SCHEMA,
  Prediction: PREDICTION,
  Timing: TIMING,
  ClassifyResult: CLASSIFY_RESULT,
  BatchResult: BATCH_RESULT,
  EmbedResult: EMBED_RESULT,
  EmbedBatchResult: EMBED_BATCH_RESULT,
  Model: MODEL,
  Models: MODELS,
};
