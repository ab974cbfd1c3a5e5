/**
 * The edge's operations wiring (docs/operations.md): the request log line (Workers Logs collects console output;
 * wrangler.toml turns `[observability]` on), a Workers Analytics Engine data point per request when METRICS is bound,
 * and the rate limiter: Cloudflare's Rate Limiting binding RATE_LIMITER when bound, else RATE_LIMIT's in-memory fixed
 * window, else none. Every binding and var here is optional: without them the Worker serves as before.
 */
import type { RequestLog } from '../../service/http/request-log.js';
import { dataPoint } from '../../service/http/metrics.js';
import {
  fixedWindowLimiter,
  parseRateLimit,
  type RateLimiter,
  type RateLimitRule,
} from '../../service/http/rate-limit.js';
import { defaultClock } from '../../service/http/timing.js';

export interface OpsVars {
  /** Analytics Engine dataset ([[analytics_engine_datasets]] binding = "METRICS"). */
  METRICS?: AnalyticsEngineDataset;
  /** Rate Limiting binding ([[ratelimits]] name = "RATE_LIMITER"). */
  RATE_LIMITER?: RateLimit;
  /** "off": no request log line (the tests' setting; production keeps it on). */
  REQUEST_LOG?: string;
  /** "on": each metrics data point is also logged as a `{"metrics": …}` line (local runs, where nothing is stored). */
  METRICS_LOG?: string;
  /** REQUESTS/SECONDSs, e.g. "120/60s": the in-memory limit without RATE_LIMITER, and Retry-After's period with it. */
  RATE_LIMIT?: string;
}

const on = (value: string | undefined) => value?.trim().toLowerCase() === 'on';
const off = (value: string | undefined) => value?.trim().toLowerCase() === 'off';

/** The log line and the data point of each request; undefined when there is nothing to do with them. */
export function edgeRequestLog(env: OpsVars): RequestLog | undefined {
  const log = !off(env.REQUEST_LOG);
  const metrics = env.METRICS;
  const metricsLog = on(env.METRICS_LOG);
  if (!log && !metrics && !metricsLog) return undefined;
  return (record) => {
    if (log) console.log(JSON.stringify(record));
    if (!metrics && !metricsLog) return;
    const point = dataPoint(record);
    metrics?.writeDataPoint(point);
    if (metricsLog) console.log(JSON.stringify({ metrics: point }));
  };
}

/** Cloudflare's binding does not say when its window ends: Retry-After is its period (RATE_LIMIT's, else 60 s). */
function bindingLimiter(binding: RateLimit, rule: RateLimitRule | undefined): RateLimiter {
  const retryAfterS = rule?.periodS ?? 60;
  return {
    async limit(key) {
      const { success } = await binding.limit({ key });
      return { allowed: success, retryAfterS };
    },
  };
}

/** Throws ConfigError for a malformed RATE_LIMIT (answered as invalid-config, like every other var). */
export function edgeRateLimiter(env: OpsVars): RateLimiter | undefined {
  const rule = env.RATE_LIMIT?.trim() ? parseRateLimit(env.RATE_LIMIT) : undefined;
  if (env.RATE_LIMITER) return bindingLimiter(env.RATE_LIMITER, rule);
  return rule ? fixedWindowLimiter(rule, defaultClock) : undefined;
}
