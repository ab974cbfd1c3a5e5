/**
 * Per-client rate limiting of /v1/*: a client is its API token (a SHA-256 digest of it: the token itself is never
 * kept) or, without one, its IP (CF-Connecting-IP, set by Cloudflare). Over the limit → 429 `rate-limited` with
 * Retry-After. The limiter is the host's: Cloudflare's Rate Limiting binding at the edge, else the in-memory fixed
 * window here (per isolate or process: approximate across many of them; docs/operations.md).
 */
import type { MiddlewareHandler } from 'hono';
import type { Clock } from './timing.js';
import { ConfigError } from '../config.js';
import { ApiError, problemResponse } from '../problems.js';

export interface RateLimitOutcome {
  allowed: boolean;
  /** Seconds until the client may try again (when refused). */
  retryAfterS: number;
}

export interface RateLimiter {
  limit(key: string): Promise<RateLimitOutcome>;
}

export interface RateLimitRule {
  limit: number;
  periodS: number;
}

/** `120/60s` (requests per period in seconds) → { limit: 120, periodS: 60 }. */
export function parseRateLimit(raw: string): RateLimitRule {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*s\s*$/.exec(raw);
  const limit = Number(match?.[1]);
  const periodS = Number(match?.[2]);
  if (!match || limit < 1 || periodS < 1)
    throw new ConfigError(`RATE_LIMIT must be REQUESTS/SECONDSs, e.g. 120/60s, got ${JSON.stringify(raw)}`);
  return { limit, periodS };
}

/** A fixed window per client; windows that have ended are dropped as they are met, so memory follows active clients. */
export function fixedWindowLimiter(rule: RateLimitRule, clock: Clock): RateLimiter {
  const windows = new Map<string, { start: number; count: number }>();
  const periodMs = rule.periodS * 1000;
  return {
    async limit(key) {
      const now = clock();
      if (windows.size > 10_000) for (const [k, w] of windows) if (now - w.start >= periodMs) windows.delete(k);
      let window = windows.get(key);
      if (!window || now - window.start >= periodMs) {
        window = { start: now, count: 0 };
        windows.set(key, window);
      }
      window.count++;
      return {
        allowed: window.count <= rule.limit,
        retryAfterS: Math.max(1, Math.ceil((window.start + periodMs - now) / 1000)),
      };
    },
  };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** `token:<sha-256>` for a bearer token, `ip:<address>` otherwise (`ip:unknown` where the host gives none). */
export async function clientKey(request: Request): Promise<string> {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1];
  if (bearer) return `token:${await sha256Hex(bearer)}`;
  return `ip:${request.headers.get('cf-connecting-ip') ?? 'unknown'}`;
}

export function rateLimit(limiter: RateLimiter): MiddlewareHandler {
  return async (c, next) => {
    const outcome = await limiter.limit(await clientKey(c.req.raw));
    if (outcome.allowed) return next();
    return problemResponse(
      new ApiError('rate-limited', `too many requests from this client; retry in ${outcome.retryAfterS} s`, {
        headers: { 'Retry-After': String(outcome.retryAfterS) },
      }),
    );
  };
}
