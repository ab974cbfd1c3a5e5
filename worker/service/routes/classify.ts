/**
 * POST /v1/classify: one image as the raw body, or a multipart batch answered in order. A model this edge does not
 * serve goes to the GPU origin when one is configured (worker/service/origin/), after the edge's own checks.
 */
import type { Context, Hono } from 'hono';
import * as v from 'valibot';
import { timing } from 'hono/timing';
import { problemTitle, problemType } from '../../api/problems.js';
import { type BodyKind, bodyKind, IMAGE_FIELD, ImageUrlsBody } from '../http/body.js';
import { checkTopKFits, type Include, includeParam, modelParam, topKParam } from '../http/params.js';
import { parseQuery } from '../http/validate.js';
import { noteRequest } from '../http/request-log.js';
import { encodePng, pngDataUrl } from '../../core/image/png-encode.js';
import { inputToRgb } from '../../core/preprocess/transform.js';
import type { ImageOutcome } from '../pipeline/run.js';
import type { Preprocessing } from '../../core/manifest/manifest.js';
import { faultCode, isOriginFault, type JsonObject } from '../origin/client.js';
import { FALLBACK_HEADER, type FallbackReport, fallbackHeader, parseFallback } from '../origin/fallback.js';
import { edgeCheckedBody, forwardToOrigin, originFor } from '../origin/forward.js';
import { answerCache } from './answer-cache.js';
import type { RouteContext } from './context.js';
import { ref } from '../openapi/problems.js';
import type { RouteOperation } from '../openapi/types.js';
import { imageBodyLimit, inputSource, readInputs } from './inputs.js';
import { requestTimings, roundTimings, runImages, withModelLease } from './run-images.js';

const single = { schema: ref('schemas', 'ClassifyResult') };
const batch = { schema: ref('schemas', 'BatchResult') };
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

/** The query's validator, and through it the document's parameters (worker/service/openapi/request.ts). */
export const classifyQuery = v.object({
  model: modelParam,
  top_k: topKParam,
  include: includeParam,
  // Which edge models exist only the running service knows: parseFallback checks the name.
  fallback: v.optional(
    v.pipe(
      v.string(),
      v.description(
        'an origin model: an edge model that answers if the origin fails (none: never), or ORIGIN_FALLBACK',
      ),
    ),
  ),
});

export interface ClassifyParams {
  model: string;
  topK: number;
  /** Extra fields per result; `input`: the 224×224 crop the model saw, as a PNG data: URL. */
  include: ReadonlySet<Include>;
}

/** The OpenAPI description of the handler below (worker/service/openapi/document.ts). */
export const classifyOperation: RouteOperation = {
  method: 'post',
  path: '/v1/classify',
  auth: true,
  query: classifyQuery,
  jsonBody: ImageUrlsBody,
  problems: [
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
  ],
  operation: {
    operationId: 'classify',
    summary: 'Classify one image (raw body or {url}) or a batch (multipart image fields or {urls})',
    // The query parameters come from classifyQuery; a header has no validator (any Cache-Control is read).
    parameters: [
      {
        name: 'Cache-Control',
        in: 'header',
        description: 'no-cache: compute afresh and store; no-store: neither read nor store the result cache',
        schema: { type: 'string' },
      },
    ],
    requestBody: {
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
        // Its schema is generated from jsonBody (ImageUrlsBody); only the examples are written here.
        'application/json': {
          examples: {
            url: { value: { url: 'https://images.example.com/cat.jpg' } },
            urls: { value: { urls: ['https://images.example.com/cat.jpg', 'https://images.example.com/dog.jpg'] } },
          },
        },
      },
    },
    responses: {
      '200': {
        description:
          'One image: ClassifyResult. A batch (multipart or urls): BatchResult, one result per image in order.',
        headers: {
          'X-Cache': {
            description: 'hit or miss (one-image requests, result cache on)',
            schema: { enum: ['hit', 'miss'] },
          },
          'Server-Timing': { description: 'the stages of timing', schema: { type: 'string' } },
        },
        content: {
          'application/json': {
            schema: { oneOf: [single.schema, batch.schema] },
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
                        status: 415,
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

/** `include=input`: the image's row of the model input, back as the 224×224 crop the model saw (a PNG data: URL). */
async function inputField(image: ImageOutcome, preprocessing: Preprocessing): Promise<{ input?: string }> {
  if (!image.ok || !image.input) return {};
  return { input: pngDataUrl(await encodePng(inputToRgb(image.input, preprocessing))) };
}

/** A classify answer from the origin: one image's predictions or a batch's results. */
const isClassifyAnswer = (body: JsonObject) => Array.isArray(body.predictions) || Array.isArray(body.results);

export function registerClassifyRoute(app: Hono, context: RouteContext): void {
  const { registry, config, clock, origin } = context;
  app.post(
    '/v1/classify',
    imageBodyLimit(context),
    timing({ total: false, enabled: (c) => c.res.status === 200 }),
    async (c) => {
      // Everything that can be rejected without the body is checked before reading it.
      const query = new URL(c.req.url).searchParams;
      const parsed = parseQuery(classifyQuery, query);
      const params: ClassifyParams = {
        model: parsed.model ?? config.defaultModel,
        topK: parsed.top_k,
        include: new Set(parsed.include),
      };
      const target = await originFor(registry, origin, params.model);
      if (!target) {
        return classifyHere(c, { params, kind: bodyKind(c.req.header('content-type')), raw: c.req.raw });
      }

      const edgeModels = (await registry.manifest()).models.map((model) => model.name);
      const fallbackModel = parseFallback(parsed.fallback, target.config.fallback, edgeModels);
      const contentType = c.req.header('content-type');
      const kind = bodyKind(contentType);
      noteRequest(c, { model: params.model });
      const { body, images: count } = await edgeCheckedBody(c.req.raw, kind, {
        maxBatch: config.maxBatch,
        buffer: fallbackModel !== undefined,
      });
      noteRequest(c, { batch: count });
      const forwarded = new URLSearchParams(query);
      forwarded.delete('fallback');
      forwarded.set('model', params.model);
      try {
        return await forwardToOrigin(
          c,
          { origin: target, clock },
          { path: '/v1/classify', query: forwarded, body, contentType, check: isClassifyAnswer },
        );
      } catch (error) {
        if (fallbackModel === undefined || !isOriginFault(error)) throw error;
        return classifyHere(c, {
          params: { ...params, model: fallbackModel },
          kind,
          raw: new Request(c.req.url, {
            method: 'POST',
            body: body as Uint8Array,
            headers: { 'content-type': contentType ?? '' },
          }),
          fallback: {
            model: fallbackModel,
            requested: params.model,
            reason: faultCode(error),
            detail: error instanceof Error ? error.message || String(error) : String(error),
          },
        });
      }
    },
  );

  /** Classifies the request's images with an edge model; `fallback` marks an answer given in an origin model's place. */
  async function classifyHere(
    c: Context,
    request: { params: ClassifyParams; kind: BodyKind; raw: Request; fallback?: FallbackReport },
  ): Promise<Response> {
    const started = clock();
    const { params, kind } = request;
    noteRequest(c, { model: params.model });
    const entry = await registry.find(params.model);
    checkTopKFits(params.topK, entry.output.shape[1]);

    return withModelLease(c, context, entry.name, async (model) => {
      const fetchStarted = clock();
      const { inputs, batch } = await readInputs(request.raw, kind, context);
      noteRequest(c, { batch: inputs.length });
      const fallback = request.fallback ? { fallback: request.fallback } : {};
      if (request.fallback) c.header(FALLBACK_HEADER, fallbackHeader(request.fallback));
      const fetchMs = kind === 'json' ? clock() - fetchStarted : undefined;

      // One image: its answer may already be cached (same bytes, same model file, same top_k).
      // include= asks for more than the cached answer holds: computed.
      const cached = await answerCache(c, context, {
        inputs,
        batch,
        cacheable: params.include.size === 0,
        key: { endpoint: 'classify', modelSha256: entry.sha256, parameters: `top_k=${params.topK}` },
        started,
      });
      if (cached.hit) return c.json({ ...cached.hit, ...fallback });

      const outcome = await runImages(context, {
        inputs,
        entry,
        model,
        topK: params.topK,
        keepInputs: params.include.has('input'),
      });
      const totals = requestTimings(c, outcome, { started, fetchMs, clock });
      // After the timings: encoding the crops is the demo's extra, not part of classifying.
      const crops = await Promise.all(outcome.images.map((image) => inputField(image, entry.preprocessing)));

      if (!batch) {
        const [image] = outcome.images;
        if (!image.ok) throw image.error;
        const answer = { model: entry.id, predictions: image.predictions };
        cached.store(answer);
        return c.json({ ...answer, timing: totals, ...crops[0], ...fallback });
      }
      return c.json({
        model: entry.id,
        results: outcome.images.map((image, index) => {
          const source = inputSource(inputs[index]);
          return image.ok
            ? {
                ...source,
                predictions: image.predictions,
                timing: roundTimings(image.timing),
                ...crops[index],
              }
            : { ...source, error: image.error.toProblem() };
        }),
        timing: totals,
        ...fallback,
      });
    });
  }
}
