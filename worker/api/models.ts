/** GET /v1/models: the deployed models as clients need them. */
import * as v from 'valibot';
import type { RouteOperation } from './operation.js';

const Preprocessing = v.looseObject({
  resizeShortSide: v.pipe(v.number(), v.integer()),
  interpolation: v.string(),
  centerCrop: v.pipe(v.number(), v.integer()),
  mean: v.pipe(v.array(v.number()), v.length(3)),
  std: v.pipe(v.array(v.number()), v.length(3)),
  colorSpace: v.string(),
  layout: v.string(),
});

export const Model = v.strictObject({
  name: v.pipe(v.string(), v.description('the API name (?model=)')),
  id: v.string(),
  variant: v.string(),
  precision: v.picklist(['fp32', 'int8', 'fp16']),
  bytes: v.pipe(v.number(), v.integer(), v.minValue(0)),
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  source: v.looseObject({
    checkpoint: v.string(),
    sha256: v.string(),
    format: v.picklist(['pth', 'safetensors']),
    kind: v.picklist(['synthetic-fixture', 'checkpoint']),
    note: v.string(),
  }),
  input: v.looseObject({
    name: v.string(),
    shape: v.array(v.union([v.string(), v.number()])),
    dtype: v.literal('float32'),
  }),
  labels: v.string(),
  classes: v.pipe(v.number(), v.integer(), v.minValue(1)),
  preprocessing: v.optional(Preprocessing),
  default: v.optional(v.boolean()),
  loaded: v.optional(v.pipe(v.boolean(), v.description('whether this instance has created the session'))),
  embedding_dims: v.optional(
    v.pipe(
      v.nullable(v.pipe(v.number(), v.integer())),
      v.description('width of /v1/embed answers; null: built without the embedding output'),
    ),
  ),
  runs: v.optional(
    v.pipe(v.picklist(['edge', 'origin']), v.description('edge: this instance; origin: forwarded to the GPU origin')),
  ),
  available: v.optional(
    v.pipe(v.boolean(), v.description('false: an origin model while the origin cannot be reached')),
  ),
  reason: v.optional(v.pipe(v.string(), v.description('why an origin model is unavailable'))),
  head: v.optional(
    v.pipe(
      v.strictObject({
        base: v.pipe(
          v.string(),
          v.description('the model whose embedding it classifies (and whose session it runs on)'),
        ),
        labels: v.pipe(v.number(), v.integer(), v.minValue(2), v.description('how many labels it has')),
        held_out_accuracy: v.pipe(
          v.nullable(v.number()),
          v.description('top-1 on images the head never trained on (the --test folder, else the validation split)'),
        ),
        top5: v.optional(v.number()),
        ece: v.optional(v.pipe(v.number(), v.description('expected calibration error of the served scores'))),
        images: v.optional(v.pipe(v.number(), v.integer(), v.description('images it was trained on'))),
        report: v.optional(v.pipe(v.string(), v.description("the training report's file in the model folder"))),
      }),
      v.description('a classifier head trained on your own labels (npm run models -- train)'),
    ),
  ),
});
export type Model = v.InferOutput<typeof Model>;

export const ModelsResult = v.strictObject({
  backend: v.string(),
  execution: v.optional(
    v.pipe(v.record(v.string(), v.unknown()), v.description('Node build only: device, why, threads, batching')),
  ),
  default: v.string(),
  models: v.array(Model),
  origin: v.optional(
    v.pipe(
      v.looseObject({
        available: v.boolean(),
        reason: v.optional(v.string()),
        backend: v.optional(v.string()),
        execution: v.optional(v.record(v.string(), v.unknown())),
      }),
      v.description('edge with GPU_ORIGIN: whether the origin answered its listing'),
    ),
  ),
});
export type ModelsResult = v.InferOutput<typeof ModelsResult>;

export const modelsOperation: RouteOperation = {
  method: 'get',
  path: '/v1/models',
  auth: true,
  problems: ['model-unavailable'],
  answer: ModelsResult,
  operation: {
    operationId: 'models',
    summary: 'The deployed models, their provenance and whether this instance has loaded them',
    responses: {
      '200': {
        description: 'the manifest, as clients need it',
        content: {
          'application/json': {
            example: {
              backend: 'onnxruntime-web/wasm',
              default: 'm0',
              models: [
                {
                  name: 'm0',
                  id: 'efficientvit_m0.int8',
                  variant: 'm0',
                  precision: 'int8',
                  bytes: 2712345,
                  sha256: '0'.repeat(64),
                  source: {
                    checkpoint:
                      'https://github.com/xinyuliu-jeffrey/EfficientViT_Model_Zoo/releases/download/v1.0/efficientvit_m0.pth',
                    sha256: '0'.repeat(64),
                    format: 'pth',
                    kind: 'checkpoint',
                    note: 'converted from the pth checkpoint …',
                  },
                  input: { name: 'input', shape: ['N', 3, 224, 224], dtype: 'float32' },
                  labels: 'imagenet-1k',
                  classes: 1000,
                  default: true,
                  loaded: false,
                },
              ],
            },
          },
        },
      },
    },
  },
};
