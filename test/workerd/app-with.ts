import { env } from 'cloudflare:workers';
import { type AppDeps, createApp } from '../../worker/app.js';
import type { ServiceConfig } from '../../worker/config.js';
import { workerdDeps } from '../../worker/entries/workerd.js';
import type { Fetch } from '../conformance/http.js';

/** The production app in this isolate, with some configuration (and dependencies) overridden. */
export function appWith(config: Partial<ServiceConfig>, overrides: Partial<AppDeps> = {}): Fetch {
  const deps = workerdDeps(env);
  const app = createApp({ ...deps, ...overrides, config: { ...deps.config, ...config } });
  return async (request) => app.fetch(request);
}
