/**
 * The edge's GPU origin settings, from the same string variables as the rest of the config (wrangler.toml `[vars]`,
 * secrets, `npm start -- --var NAME:VALUE`). GPU_ORIGIN unset: no origin, the edge serves its own models only.
 */
import { ConfigError } from '../config.js';

export interface OriginVars {
  /** Base URL of a Node build, e.g. http://127.0.0.1:8080. */
  GPU_ORIGIN?: string;
  /** A secret, sent as `Authorization: Bearer <token>`; the Node build checks it with its API_TOKEN. */
  ORIGIN_TOKEN?: string;
  /** How long the origin has to answer a request, in milliseconds (default 10 000). */
  ORIGIN_TIMEOUT_MS?: string;
  /** An edge model that answers when the origin fails, for requests that do not say `fallback=` (default: none). */
  ORIGIN_FALLBACK?: string;
}

export interface OriginConfig {
  url: string;
  token?: string;
  timeoutMs: number;
  fallback?: string;
}

export const DEFAULT_ORIGIN_TIMEOUT_MS = 10_000;

export function parseOriginConfig(vars: OriginVars): OriginConfig | undefined {
  const text = (value: string | undefined) => (value?.trim() ? value.trim() : undefined);
  const raw = text(vars.GPU_ORIGIN);
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`GPU_ORIGIN must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`GPU_ORIGIN must be an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  let timeoutMs = DEFAULT_ORIGIN_TIMEOUT_MS;
  const timeout = text(vars.ORIGIN_TIMEOUT_MS);
  if (timeout !== undefined) {
    timeoutMs = Number(timeout);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new ConfigError(
        `ORIGIN_TIMEOUT_MS must be a positive number, got ${JSON.stringify(vars.ORIGIN_TIMEOUT_MS)}`,
      );
    }
  }
  const fallback = text(vars.ORIGIN_FALLBACK);
  return {
    // Paths are appended to it: no trailing slash.
    url: url.href.replace(/\/+$/, ''),
    ...(text(vars.ORIGIN_TOKEN) ? { token: text(vars.ORIGIN_TOKEN) } : {}),
    timeoutMs,
    ...(fallback && fallback !== 'none' ? { fallback } : {}),
  };
}
