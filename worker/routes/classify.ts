/** POST /v1/classify: one image as the raw body, or a multipart batch answered in order. */
import type { Context, Hono } from 'hono';
import { setMetric, timing } from 'hono/timing';
import { classifyImages } from '../classify/pipeline.js';
import { cacheDirectives, resultCacheKey } from '../cache/result-cache.js';
import { bodyKind, type UploadedImage } from '../http/body.js';
import { checkTopKFits, parseClassifyParams } from '../http/params.js';
import { roundMs, SERVER_TIMING_NAMES, type StageTimings } from '../http/timing.js';
import { takeLoadTiming, type ModelLease } from '../models/registry.js';
import { encodePng, pngDataUrl } from '../image/png-encode.js';
import { inputToRgb } from '../preprocess/transform.js';
import type { ImageOutcome } from '../classify/pipeline.js';
import type { Preprocessing } from '../../models/manifest.js';
import type { RouteContext } from './context.js';
import { imageBodyLimit, inputSource, readInputs } from './inputs.js';

export function serverTiming(c: Context, timings: StageTimings): void {
  for (const [stage, name] of Object.entries(SERVER_TIMING_NAMES) as [keyof StageTimings, string][]) {
    const ms = timings[stage];
    if (ms !== undefined) setMetric(c, name, ms, undefined, 2);
  }
}

export function roundTimings<T extends object>(timings: T): T {
  return Object.fromEntries(Object.entries(timings).map(([key, ms]) => [key, roundMs(ms as number)])) as T;
}

/** `include=input`: the image's row of the model input, back as the 224×224 crop the model saw (a PNG data: URL). */
async function inputField(image: ImageOutcome, preprocessing: Preprocessing): Promise<{ input?: string }> {
  if (!image.ok || !image.input) return {};
  return { input: pngDataUrl(await encodePng(inputToRgb(image.input, preprocessing))) };
}

export function registerClassifyRoute(app: Hono, routes: RouteContext): void {
  const { registry, config, images, clock, background, resultCache } = routes;
  app.post(
    '/v1/classify',
    imageBodyLimit(routes),
    timing({ total: false, enabled: (c) => c.res.status === 200 }),
    async (c) => {
      const started = clock();
      // Everything that can be rejected without the body is checked before reading it.
      const params = parseClassifyParams(new URL(c.req.url).searchParams, config.defaultModel);
      const entry = await registry.find(params.model);
      checkTopKFits(params.topK, entry.output.shape[1]);
      const kind = bodyKind(c.req.header('content-type'));

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
        const fetchStarted = clock();
        const { inputs, batch } = await readInputs(c.req.raw, kind, routes);
        const fetchMs = kind === 'json' ? clock() - fetchStarted : undefined;

        // One image: its answer may already be cached (same bytes, same model file, same top_k).
        // include= asks for more than the cached answer holds: computed.
        const cache = !batch && config.resultCache && params.include.size === 0 ? resultCache : undefined;
        const directives = cacheDirectives(c.req.header('cache-control'));
        const only = inputs[0];
        const cacheKey =
          cache && 'bytes' in only
            ? await resultCacheKey(only.bytes, {
                modelSha256: entry.sha256,
                topK: params.topK,
                maxPixels: config.maxImagePixels,
                maxDecodeBytes: config.maxDecodeBytes,
              })
            : undefined;
        if (cache && cacheKey !== undefined) {
          c.header('X-Cache', 'miss');
          if (directives.read) {
            const lookupStarted = clock();
            const hit = await cache.get(cacheKey);
            if (hit) {
              c.header('X-Cache', 'hit');
              const cacheMs = clock() - lookupStarted;
              setMetric(c, 'cache', cacheMs, undefined, 2);
              return c.json({ ...hit, timing: { cache_ms: roundMs(cacheMs), total_ms: roundMs(clock() - started) } });
            }
          }
        }

        const uploads = inputs.filter((input): input is UploadedImage => 'bytes' in input);
        const classified = await classifyImages({
          images: uploads.map((upload) => upload.bytes),
          model,
          preprocessing: entry.preprocessing,
          inputSize: entry.preprocessing.centerCrop,
          topK: params.topK,
          maxPixels: config.maxImagePixels,
          maxDecodeBytes: config.maxDecodeBytes,
          support: images,
          clock,
          keepInputs: params.include.has('input'),
        });

        // Failed fetches keep their slots, so a batch is answered in the order it was asked.
        let next = 0;
        const outcome = {
          ...classified,
          images: inputs.map((input) =>
            'bytes' in input ? classified.images[next++] : { ok: false as const, error: input.error },
          ),
        };

        const sum = (stage: 'decode_wait_ms' | 'decode_ms' | 'preprocess_ms') =>
          outcome.images.reduce((total, image) => total + (image.ok ? image.timing[stage] : 0), 0);
        const totals = roundTimings<StageTimings>({
          decode_wait_ms: sum('decode_wait_ms'),
          decode_ms: sum('decode_ms'),
          preprocess_ms: sum('preprocess_ms'),
          model_wait_ms: outcome.model_wait_ms,
          inference_ms: outcome.inference_ms,
          ...(fetchMs !== undefined ? { fetch_ms: fetchMs } : {}),
          total_ms: clock() - started,
          ...(outcome.model ? takeLoadTiming(outcome.model) : undefined),
        });
        serverTiming(c, totals);
        // After the timings: encoding the crops is the demo's extra, not part of classifying.
        const crops = await Promise.all(outcome.images.map((image) => inputField(image, entry.preprocessing)));

        if (!batch) {
          const [image] = outcome.images;
          if (!image.ok) throw image.error;
          const answer = { model: entry.id, predictions: image.predictions };
          if (cache && cacheKey !== undefined && directives.write) {
            background(
              c,
              cache.put(cacheKey, answer).catch(() => undefined),
            );
          }
          return c.json({ ...answer, timing: totals, ...crops[0] });
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
        });
      } finally {
        lease.then(
          (held) => held.release(),
          () => undefined,
        );
      }
    },
  );
}
