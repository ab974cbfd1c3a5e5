/** What every route module is handed by createApp: the app's dependencies plus the one model registry they share. */
import type { Context } from 'hono';
import type { ImageSupport } from '../classify/pipeline.js';
import type { ServiceConfig } from '../config.js';
import type { Clock } from '../http/timing.js';
import type { ModelRegistry } from '../models/registry.js';
import type { OriginClient } from '../origin/client.js';

export interface RouteContext {
  config: ServiceConfig;
  images: ImageSupport;
  registry: ModelRegistry;
  clock: Clock;
  /** Keeps work alive after the request that started it has been answered (AppDeps.background). */
  background: (c: Context, work: Promise<unknown>) => void;
  /** How this host runs the models (AppDeps.execution). */
  execution?: () => Record<string, unknown>;
  /** The GPU origin that serves the models this host does not (AppDeps.origin). */
  origin?: OriginClient;
}
