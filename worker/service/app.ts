/**
 * The HTTP API (docs/api.md), built from injected dependencies so that one app serves from workerd and from Node:
 * nothing here or below may touch runtime-specific globals (process, fs, Cloudflare bindings).
 */
import { Hono, type Context } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { methodNotAllowed } from 'hono/method-not-allowed';
import type { ResultCache } from './cache/result-cache.js';
import type { UrlFetcher } from './fetch/fetch-image.js';
import type { ServiceConfig } from './config.js';
import { CodedError } from '../core/errors.js';
import { ApiError, apiError, problemResponse } from './problems.js';
import { PROBLEM_CONTENT_TYPE } from '../api/problems.js';
import type { InferenceBackend } from '../core/inference/backend.js';
import { type RequestLog, requestLogger } from './http/request-log.js';
import { type RateLimiter, rateLimit } from './http/rate-limit.js';
import { defaultClock, type Clock } from './http/timing.js';
import type { ModelFiles } from './registry/model-files.js';
import { ModelRegistry, type SessionWrapper, type StartupModel } from './registry/registry.js';
import { registerTask } from './pipeline/handler.js';
import { classifyTask } from './tasks/classify.js';
import { embedTask } from './tasks/embed.js';
import { registerDocsRoute } from './routes/docs.js';
import { registerHealthRoute } from './routes/health.js';
import { registerModelsRoute } from './routes/models.js';
import { registerOpenApiRoute } from './routes/openapi.js';
import type { OriginClient } from './origin/client.js';
import { FALLBACK_HEADER } from './origin/fallback.js';
import { registerPageRoute } from './routes/page.js';
import type { ImageSupport } from '../core/model-input/image-input.js';
import type { Services } from './services.js';

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
  /**
   * A session the entry created before the first request (workerd: at isolate start-up); the registry adopts it for
   * the model whose file it was created from.
   */
  startup?: StartupModel;
  /** How this host runs the models (device and why, threads, batching), shown in /v1/models as `execution`. */
  execution?: () => Record<string, unknown>;
  /**
   * Keeps `work` alive after request `c` has been answered. workerd cancels what a request leaves behind once it has
   * answered, so its entry hands in `ctx.waitUntil`; on Node promises run on by themselves (unset: nothing to do).
   */
  background?: (c: Context, work: Promise<unknown>) => void;
  /** Keeps classify answers for identical requests: the Cache API in workerd, an LRU in memory on Node. */
  resultCache?: ResultCache;
  /** Fetches image URLs (classify by URL); default: the runtime's fetch, without DNS checks. */
  urlFetcher?: UrlFetcher;
  /** Called once per request with what was asked and how it went (the Node build's request log lines). */
  requestLog?: RequestLog;
  /** Limits each client's requests to /v1/* (http/rate-limit.ts); unset: no limit. */
  rateLimiter?: RateLimiter;
  /** A Node build that serves the models this host does not (worker/service/origin/); unset: this host's models only. */
  origin?: OriginClient;
}

export function createApp(deps: AppDeps): Hono {
  const { config, images } = deps;
  const clock = deps.clock ?? defaultClock;
  const registry = new ModelRegistry(deps.files, deps.backend, {
    wrapSession: deps.wrapSession,
    maxLoaded: config.maxLoadedModels,
    clock,
    startup: deps.startup,
  });
  const background = deps.background ?? (() => undefined);
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof CodedError) return problemResponse(apiError(error));
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

  if (deps.requestLog) app.use(requestLogger(deps.requestLog, clock));
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
        exposeHeaders: ['Server-Timing', FALLBACK_HEADER, 'Retry-After'],
        maxAge: 600,
      }),
    );
  }
  // Before auth: a client guessing tokens is limited too (keyed by what it sends).
  if (deps.rateLimiter) app.use('/v1/*', rateLimit(deps.rateLimiter));
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

  registerHealthRoute(app);
  registerOpenApiRoute(app);

  const routes: Services = {
    config,
    images,
    registry,
    files: deps.files,
    clock,
    background,
    execution: deps.execution,
    resultCache: deps.resultCache,
    urlFetcher: deps.urlFetcher ?? { fetch: (input, init) => fetch(input, init) },
    origin: deps.origin,
  };
  registerPageRoute(app, routes);
  registerDocsRoute(app, routes);
  registerModelsRoute(app, routes);
  // Every image operation is one task of the one pipeline (pipeline/handler.ts).
  for (const task of [classifyTask, embedTask]) registerTask(app, routes, task);

  return app;
}
