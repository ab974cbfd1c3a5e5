import { env } from 'cloudflare:workers';
import { type AppDeps, createApp } from '../../../worker/service/app.js';
import type { ServiceConfig } from '../../../worker/service/config.js';
import { workerdDeps } from '../../../worker/runtimes/workerd/handler.js';
import type { Fetch } from '../../service/conformance/http.js';

/** The production app in this isolate, with some configuration (and dependencies) overridden. */
export function appWith(config: Partial<ServiceConfig>, overrides: Partial<AppDeps> = {}): Fetch {
  const deps = workerdDeps(env);
  const app = createApp({ ...deps, ...overrides, config: { ...deps.config, ...config } });
  return async (request) => app.fetch(request);
}
