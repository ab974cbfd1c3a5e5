/**
 * The Workers handler: imports the wasm modules (precompiled by the runtime) and maps `env` to the app's dependencies.
 * Nothing heavy runs here at global scope: the app is built on the first request, and onnxruntime and the decoders
 * instantiate their wasm on first use. The deployed entry, cloudflare.ts, adds a session created at start-up; the
 * tests run this one (its default export), which bundles no model.
 */
import type { Hono } from 'hono';
import jpegWasm from '../../../wasm/jpeg/jpeg.wasm';
import webpWasm from '@jsquash/webp/codec/dec/webp_dec.wasm';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import { createApp, type AppDeps } from '../../service/app.js';
import { createCacheApiResultCache } from '../../service/cache/result-cache.js';
import { createImageSupport } from '../../core/model-input/image-input.js';
import { ConfigError, parseConfig, type ConfigVars } from '../../service/config.js';
import { ApiError, problemResponse } from '../../service/problems.js';
import { createOrtWebBackend } from '../../core/inference/ort-web.js';
import { createFetchModelFiles } from '../../service/registry/model-files.js';
import type { StartupModel } from '../../service/registry/registry.js';
import { createOriginClient } from '../../service/origin/client.js';
import { type OriginVars, parseOriginConfig } from '../../service/origin/config.js';
import { edgeRateLimiter, edgeRequestLog, type OpsVars } from './ops.js';

/**
 * The bindings and vars wrangler.toml declares (Cloudflare.Env, generated into env.d.ts by `npm run types`), and the
 * variables it leaves unset or commented out (secrets such as API_TOKEN, the optional limits, the origin's and the
 * optional operations bindings: ops.ts).
 */
export type WorkerEnv = Cloudflare.Env & ConfigVars & OriginVars & OpsVars;

/** The dependencies for one isolate; exported so tests can build the same app with another config. */
export function workerdDeps(env: WorkerEnv, startup?: StartupModel): AppDeps {
  const origin = parseOriginConfig(env);
  const requestLog = edgeRequestLog(env);
  const rateLimiter = edgeRateLimiter(env);
  return {
    ...(requestLog ? { requestLog } : {}),
    ...(rateLimiter ? { rateLimiter } : {}),
    ...(origin ? { origin: createOriginClient(origin) } : {}),
    ...(startup ? { startup } : {}),
    backend: createOrtWebBackend(ortWasm),
    files: createFetchModelFiles(env.MODELS),
    images: createImageSupport({ jpeg: jpegWasm, webp: webpWasm }),
    config: parseConfig(env),
    resultCache: createCacheApiResultCache(caches.default),
    // Tests call app.fetch without an ExecutionContext: there, nothing cancels the work anyway.
    background: (c, work) => {
      let waitUntil: ((promise: Promise<unknown>) => void) | undefined;
      try {
        const ctx = c.executionCtx;
        waitUntil = ctx.waitUntil.bind(ctx);
      } catch {
        return;
      }
      waitUntil(work);
    },
  };
}

/** One app per isolate, built on the first request (env is only known then); a bad config answers every request. */
export function createWorkerdHandler(startup?: StartupModel): ExportedHandler<WorkerEnv> {
  let app: Hono | undefined;
  return {
    fetch(request, env, ctx) {
      try {
        app ??= createApp(workerdDeps(env, startup));
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return problemResponse(new ApiError('invalid-config', error.message));
      }
      return app.fetch(request, env, ctx);
    },
  };
}

export default createWorkerdHandler();
