/**
 * POST /v1/classify: one image as the raw body, or a multipart batch answered in order. A model this edge does not
 * serve goes to the GPU origin when one is configured (worker/origin/), after the edge's own checks.
 */
import type { Context, Hono } from 'hono';
import { setMetric, timing } from 'hono/timing';
import { classifyImages } from '../classify/pipeline.js';
import { ApiError } from '../errors.js';
import { type BodyKind, bodyKind, readMultipartImages, readSingleImage, type UploadedImage } from '../http/body.js';
import { bodyLimit } from '../http/body-limit.js';
import { noteRequest } from '../http/request-log.js';
import { checkTopKFits, type ClassifyParams, parseClassifyParams } from '../http/params.js';
import { roundMs, SERVER_TIMING_NAMES, type StageTimings } from '../http/timing.js';
import { takeLoadTiming, type ModelLease } from '../models/registry.js';
import { faultCode, isOriginFault, type JsonObject } from '../origin/client.js';
import { FALLBACK_HEADER, type FallbackReport, fallbackHeader, parseFallback } from '../origin/fallback.js';
import { edgeCheckedBody, forwardToOrigin, originFor } from '../origin/forward.js';
import type { RouteContext } from './context.js';

function serverTiming(c: Context, timings: StageTimings): void {
  for (const [stage, name] of Object.entries(SERVER_TIMING_NAMES) as [keyof StageTimings, string][]) {
    const ms = timings[stage];
    if (ms !== undefined) setMetric(c, name, ms, undefined, 2);
  }
}

function roundTimings<T extends object>(timings: T): T {
  return Object.fromEntries(Object.entries(timings).map(([key, ms]) => [key, roundMs(ms as number)])) as T;
}

/** A classify answer from the origin: one image's predictions or a batch's results. */
const isClassifyAnswer = (body: JsonObject) => Array.isArray(body.predictions) || Array.isArray(body.results);

/** Classifies `uploads` with an edge model; `fallback` marks an answer given in place of an origin model's. */
async function classifyHere(
  c: Context,
  { registry, config, images, clock, background }: RouteContext,
  request: {
    params: ClassifyParams;
    kind: BodyKind;
    uploads: () => Promise<UploadedImage[]>;
    fallback?: FallbackReport;
  },
): Promise<Response> {
  const started = clock();
  const { params, kind } = request;
  noteRequest(c, { model: params.model });
  const entry = await registry.find(params.model);
  checkTopKFits(params.topK, entry.output.shape[1]);

  // The model load starts as the request arrives, overlapping the upload and the decode, and is kept alive past
  // this request's end (background), so a request that fails or is answered early still leaves the model loaded
  // for the next one. The lease keeps the session from being released (to make room for another model) until
  // this response is built.
  const cold = !registry.isLoaded(entry.name);
  const lease: Promise<ModelLease> = registry.acquire(entry.name);
  // A failed load reaches the request when it asks for the model; the background hold only keeps it running.
  const settled = lease.catch(() => undefined);
  if (cold) background(c, settled);
  const model = () => lease.then((held) => held.value);
  try {
    const uploads = await request.uploads();
    noteRequest(c, { batch: uploads.length });
    const outcome = await classifyImages({
      images: uploads.map((upload) => upload.bytes),
      model,
      preprocessing: entry.preprocessing,
      inputSize: entry.preprocessing.centerCrop,
      topK: params.topK,
      maxPixels: config.maxImagePixels,
      maxDecodeBytes: config.maxDecodeBytes,
      support: images,
      clock,
    });

    const sum = (stage: 'decode_wait_ms' | 'decode_ms' | 'preprocess_ms') =>
      outcome.images.reduce((total, image) => total + (image.ok ? image.timing[stage] : 0), 0);
    const totals = roundTimings<StageTimings>({
      decode_wait_ms: sum('decode_wait_ms'),
      decode_ms: sum('decode_ms'),
      preprocess_ms: sum('preprocess_ms'),
      model_wait_ms: outcome.model_wait_ms,
      inference_ms: outcome.inference_ms,
      total_ms: clock() - started,
      ...(outcome.model ? takeLoadTiming(outcome.model) : undefined),
    });
    serverTiming(c, totals);
    const fallback = request.fallback ? { fallback: request.fallback } : {};
    if (request.fallback) c.header(FALLBACK_HEADER, fallbackHeader(request.fallback));

    if (kind === 'single') {
      const [image] = outcome.images;
      if (!image.ok) throw image.error;
      return c.json({ model: entry.id, predictions: image.predictions, timing: totals, ...fallback });
    }
    return c.json({
      model: entry.id,
      results: outcome.images.map((image, index) => {
        const filename = uploads[index].filename;
        return image.ok
          ? {
              ...(filename ? { filename } : {}),
              predictions: image.predictions,
              timing: roundTimings(image.timing),
            }
          : { ...(filename ? { filename } : {}), error: image.error.toProblem() };
      }),
      timing: totals,
      ...fallback,
    });
  } finally {
    lease.then(
      (held) => held.release(),
      () => undefined,
    );
  }
}

function readUploads(raw: Request, kind: BodyKind, maxBatch: number): Promise<UploadedImage[]> {
  return kind === 'multipart' ? readMultipartImages(raw, maxBatch) : readSingleImage(raw).then((image) => [image]);
}

export function registerClassifyRoute(app: Hono, context: RouteContext): void {
  const { registry, config, origin, clock } = context;
  app.post(
    '/v1/classify',
    bodyLimit({
      maxSize: config.maxBodyBytes,
      onError: () => {
        throw new ApiError('body-too-large', `the request body is larger than ${config.maxBodyBytes} bytes`, {
          extensions: { limit: config.maxBodyBytes },
        });
      },
    }),
    timing({ total: false, enabled: (c) => c.res.status === 200 }),
    async (c) => {
      // Everything that can be rejected without the body is checked before reading it.
      const query = new URL(c.req.url).searchParams;
      const params = parseClassifyParams(query, config.defaultModel);
      const target = await originFor(registry, origin, params.model);
      if (!target) {
        const kind = bodyKind(c.req.header('content-type'));
        return classifyHere(c, context, { params, kind, uploads: () => readUploads(c.req.raw, kind, config.maxBatch) });
      }

      const edgeModels = (await registry.manifest()).models.map((model) => model.name);
      const fallbackModel = parseFallback(query, target.config.fallback, edgeModels);
      const contentType = c.req.header('content-type');
      const kind = bodyKind(contentType);
      noteRequest(c, { model: params.model });
      const { body, images } = await edgeCheckedBody(c.req.raw, kind, {
        maxBatch: config.maxBatch,
        buffer: fallbackModel !== undefined,
      });
      noteRequest(c, { batch: images });
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
        const bytes = body as Uint8Array;
        return classifyHere(c, context, {
          params: { model: fallbackModel, topK: params.topK },
          kind,
          uploads: () =>
            readUploads(
              new Request(c.req.url, { method: 'POST', body: bytes, headers: { 'content-type': contentType ?? '' } }),
              kind,
              config.maxBatch,
            ),
          fallback: {
            model: fallbackModel,
            requested: params.model,
            reason: faultCode(error),
            detail: error instanceof Error ? error.message : String(error),
          },
        });
      }
    },
  );
}
