/**
 * The HTTP API (docs/api.md), built from injected dependencies so that one app serves from workerd and from Node:
 * nothing here or below may touch runtime-specific globals (process, fs, Cloudflare bindings).
 */
import { Hono, type Context } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { setMetric, timing } from 'hono/timing';
import type { ManifestModel } from '../models/manifest.js';
import { classifyImages, type ImageSupport } from './classify/pipeline.js';
import type { ServiceConfig } from './config.js';
import { ApiError, PROBLEM_CONTENT_TYPE, problemResponse } from './errors.js';
import type { InferenceBackend } from './inference/backend.js';
import { bodyKind, readMultipartImages, readSingleImage } from './http/body.js';
import { bodyLimit } from './http/body-limit.js';
import { checkTopKFits, parseClassifyParams } from './http/params.js';
import { defaultClock, roundMs, SERVER_TIMING_NAMES, type Clock, type StageTimings } from './http/timing.js';
import type { ModelFiles } from './models/files.js';
import { ModelRegistry, takeLoadTiming, type ModelLease, type SessionWrapper } from './models/registry.js';

export interface AppDeps {
  /** Runs the ONNX models (onnxruntime-web in workerd, onnxruntime-node in Node). */
  backend: InferenceBackend;
  /** Reads manifest.json, label files and model files. */
  files: ModelFiles;
  /** Decoding and preprocessing, bound to the host's image wasm modules. */
  images: ImageSupport;
  config: ServiceConfig;
  clock?: Clock;
  /**
   * Wraps each model's session once, when the model is first loaded (the Node build's dynamic batcher). It wraps the
   * registry's serialized session, so it may merge concurrent requests while the session still sees one call at a time.
   */
  wrapSession?: SessionWrapper;
  /** How this host runs the models (device and why, threads, batching), shown in /v1/models as `execution`. */
  execution?: () => Record<string, unknown>;
  /**
   * Keeps `work` alive after request `c` has been answered. workerd cancels what a request leaves behind once it has
   * answered, so its entry hands in `ctx.waitUntil`; on Node promises run on by themselves (unset: nothing to do).
   */
  background?: (c: Context, work: Promise<unknown>) => void;
}

/** Where each model's weights came from, in words a client can show. */
function describeSource(source: ManifestModel['source']): { kind: 'synthetic-fixture' | 'checkpoint'; note: string } {
  const synthetic = /synthetic/i.test(source.checkpoint);
  return synthetic
    ? {
        kind: 'synthetic-fixture',
        note: 'random "trained-looking" test weights, not trained on ImageNet: predictions are meaningless',
      }
    : { kind: 'checkpoint', note: `converted from the ${source.format} checkpoint ${source.checkpoint}` };
}

function serverTiming(c: Context, timings: StageTimings): void {
  for (const [stage, name] of Object.entries(SERVER_TIMING_NAMES) as [keyof StageTimings, string][]) {
    const ms = timings[stage];
    if (ms !== undefined) setMetric(c, name, ms, undefined, 2);
  }
}

function roundTimings<T extends object>(timings: T): T {
  return Object.fromEntries(Object.entries(timings).map(([key, ms]) => [key, roundMs(ms as number)])) as T;
}

export function createApp(deps: AppDeps): Hono {
  const { config, images } = deps;
  const clock = deps.clock ?? defaultClock;
  const registry = new ModelRegistry(deps.files, deps.backend, {
    wrapSession: deps.wrapSession,
    maxLoaded: config.maxLoadedModels,
    clock,
  });
  const background = deps.background ?? (() => undefined);
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof ApiError) return problemResponse(error);
    // Middleware reports through HTTPException. Ours already carry a problem response (bearer auth's messages);
    // anything else is mapped by status, keeping a WWW-Authenticate challenge.
    if (error instanceof HTTPException) {
      const original = error.getResponse();
      if (original.headers.get('content-type') === PROBLEM_CONTENT_TYPE) return original;
      const code = error.status === 401 ? 'unauthorized' : error.status === 413 ? 'body-too-large' : 'bad-parameter';
      const challenge = original.headers.get('www-authenticate');
      return problemResponse(
        new ApiError(code, error.message || original.statusText || 'request rejected', {
          headers: challenge ? { 'WWW-Authenticate': challenge } : {},
        }),
      );
    }
    console.error('unhandled error', c.req.method, c.req.path, error);
    return problemResponse(new ApiError('internal-error', 'an unexpected error occurred; it has been logged'));
  });
  app.notFound((c) => problemResponse(new ApiError('not-found', `no route for ${c.req.method} ${c.req.path}`)));

  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, methods) =>
        problemResponse(
          new ApiError(
            'method-not-allowed',
            `${c.req.method} is not allowed on ${c.req.path}; use ${methods.join(', ')}`,
            {
              headers: { Allow: methods.join(', ') },
            },
          ),
        ),
    }),
  );
  if (config.corsOrigins) {
    const origins = config.corsOrigins;
    app.use(
      cors({
        origin: origins.includes('*') ? '*' : origins,
        allowMethods: ['GET', 'HEAD', 'POST', 'OPTIONS'],
        allowHeaders: ['Authorization', 'Content-Type'],
        exposeHeaders: ['Server-Timing'],
        maxAge: 600,
      }),
    );
  }
  if (config.apiToken) {
    const unauthorized = (detail: string) => () =>
      problemResponse(new ApiError('unauthorized', detail, { headers: { 'WWW-Authenticate': 'Bearer' } }));
    app.use(
      '/v1/*',
      bearerAuth({
        token: config.apiToken,
        noAuthenticationHeader: { message: unauthorized('send Authorization: Bearer <token>') },
        invalidAuthenticationHeader: { message: unauthorized('the Authorization header is not a bearer token') },
        invalidToken: { message: unauthorized('the bearer token is not valid') },
      }),
    );
  }

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/v1/models', async (c) => {
    const manifest = await registry.manifest();
    return c.json({
      backend: registry.backend.name,
      ...(deps.execution ? { execution: deps.execution() } : {}),
      default: config.defaultModel,
      models: manifest.models.map((model) => ({
        name: model.name,
        id: model.id,
        variant: model.variant,
        precision: model.precision,
        bytes: model.bytes,
        sha256: model.sha256,
        source: { ...model.source, ...describeSource(model.source) },
        input: model.input,
        labels: model.labels,
        classes: model.output.shape[1],
        preprocessing: model.preprocessing,
        default: model.name === config.defaultModel,
        loaded: registry.isLoaded(model.name),
      })),
    });
  });

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
        const uploads =
          kind === 'multipart'
            ? await readMultipartImages(c.req.raw, config.maxBatch)
            : [await readSingleImage(c.req.raw)];
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

        if (kind === 'single') {
          const [image] = outcome.images;
          if (!image.ok) throw image.error;
          return c.json({ model: entry.id, predictions: image.predictions, timing: totals });
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
        });
      } finally {
        lease.then(
          (held) => held.release(),
          () => undefined,
        );
      }
    },
  );

  return app;
}
