/**
 * What createApp builds from its dependencies (AppDeps) and the routes and the pipeline share: the one model registry
 * and the host's pieces. Each user takes the part it needs (Pick<Services, …>).
 */
import type { Context } from 'hono';
import type { ResultCache } from './cache/result-cache.js';
import type { ServiceConfig } from './config.js';
import type { UrlFetcher } from './fetch/fetch-image.js';
import type { Clock } from './http/timing.js';
import type { ModelFiles } from './registry/model-files.js';
import type { ModelRegistry } from './registry/registry.js';
import type { OriginClient } from './origin/client.js';
import type { ImageSupport } from '../core/model-input/image-input.js';

export interface Services {
  config: ServiceConfig;
  images: ImageSupport;
  registry: ModelRegistry;
  /** The build folder the models come from; the demo page is built beside them (routes/page.ts). */
  files: ModelFiles;
  clock: Clock;
  /** Keeps work alive after the request that started it has been answered (AppDeps.background). */
  background: (c: Context, work: Promise<unknown>) => void;
  /** Where classify answers are kept for identical requests (AppDeps.resultCache); unset: no cache. */
  resultCache?: ResultCache;
  /** Fetches images for classify by URL (AppDeps.urlFetcher). */
  urlFetcher: UrlFetcher;
  /** How this host runs the models (AppDeps.execution). */
  execution?: () => Record<string, unknown>;
  /** The GPU origin that serves the models this host does not (AppDeps.origin). */
  origin?: OriginClient;
}
