/**
 * Service configuration: limits, default model, optional auth and CORS. Read from plain string variables
 * (wrangler.toml `[vars]` and secrets in workerd, the process environment in Node) so both runtimes share it.
 */
import { parseAllowedHosts, type UrlPolicy } from './fetch/url-policy.js';

export interface ServiceConfig {
  /** Largest request body accepted, in bytes (checked from Content-Length and while streaming). */
  maxBodyBytes: number;
  /** Largest image accepted, in pixels (width × height read from the header before decoding). */
  maxImagePixels: number;
  /** Most images in one multipart request. */
  maxBatch: number;
  /**
   * Most memory one image's decoding may take, in bytes (the decoder's buffers and the full-size pixels; a large JPEG
   * decodes reduced and needs little). An image that would need more is refused with 413 before decoding.
   */
  maxDecodeBytes: number;
  /**
   * Most models with a live inference session at once; loading another first releases the least recently used idle
   * one. Unset: no limit. A Worker sets 1: every session grows onnxruntime's wasm memory, which never shrinks.
   */
  maxLoadedModels?: number;
  /** API name of the model used when the request names none. */
  defaultModel: string;
  /** When set, /v1/* requires `Authorization: Bearer <token>`. */
  apiToken?: string;
  /** When set, CORS headers are sent for these origins ('*' allows any). */
  corsOrigins?: string[];
  /** Hosts classify by URL may fetch from (FETCH_ALLOWED_HOSTS); unset: classify by URL is off. */
  fetchAllowedHosts?: UrlPolicy;
  /** Deadline for fetching one image URL, redirects and body included. */
  fetchTimeoutMs: number;
  /** Answers for identical image bytes + model + top_k are reused (RESULT_CACHE=off turns it off). */
  resultCache: boolean;
}

export const DEFAULT_CONFIG: Readonly<ServiceConfig> = Object.freeze({
  maxBodyBytes: 16 * 1024 * 1024,
  maxImagePixels: 16_000_000,
  maxBatch: 8,
  maxDecodeBytes: 40 * 1024 * 1024,
  defaultModel: 'm0',
  fetchTimeoutMs: 5000,
  resultCache: true,
});

/** The variable names, as set in wrangler.toml `[vars]`, `.dev.vars`, secrets or the environment. */
export interface ConfigVars {
  MAX_BODY_BYTES?: string;
  MAX_MEGAPIXELS?: string;
  MAX_BATCH?: string;
  MAX_DECODE_MIB?: string;
  MAX_LOADED_MODELS?: string;
  DEFAULT_MODEL?: string;
  API_TOKEN?: string;
  CORS_ORIGINS?: string;
  FETCH_ALLOWED_HOSTS?: string;
  FETCH_TIMEOUT_MS?: string;
  RESULT_CACHE?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function positiveNumber(name: string, raw: string, integer: boolean): number {
  const text = raw.trim();
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new ConfigError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Unset or empty variables take the defaults; malformed ones throw ConfigError (a typo must not disable a limit). */
export function parseConfig(vars: ConfigVars): ServiceConfig {
  const set = (value: string | undefined): value is string => typeof value === 'string' && value.trim() !== '';
  const config: ServiceConfig = { ...DEFAULT_CONFIG };
  if (set(vars.MAX_BODY_BYTES)) config.maxBodyBytes = positiveNumber('MAX_BODY_BYTES', vars.MAX_BODY_BYTES, true);
  if (set(vars.MAX_MEGAPIXELS)) {
    config.maxImagePixels = Math.floor(positiveNumber('MAX_MEGAPIXELS', vars.MAX_MEGAPIXELS, false) * 1_000_000);
  }
  if (set(vars.MAX_BATCH)) config.maxBatch = positiveNumber('MAX_BATCH', vars.MAX_BATCH, true);
  if (set(vars.MAX_DECODE_MIB)) {
    config.maxDecodeBytes = Math.floor(positiveNumber('MAX_DECODE_MIB', vars.MAX_DECODE_MIB, false) * 1024 * 1024);
  }
  if (set(vars.MAX_LOADED_MODELS))
    config.maxLoadedModels = positiveNumber('MAX_LOADED_MODELS', vars.MAX_LOADED_MODELS, true);
  if (set(vars.DEFAULT_MODEL)) config.defaultModel = vars.DEFAULT_MODEL.trim();
  if (set(vars.API_TOKEN)) config.apiToken = vars.API_TOKEN.trim();
  if (set(vars.CORS_ORIGINS)) {
    config.corsOrigins = vars.CORS_ORIGINS.split(',')
      .map((origin) => origin.trim())
      .filter((origin) => origin !== '');
  }
  if (set(vars.FETCH_ALLOWED_HOSTS)) {
    try {
      config.fetchAllowedHosts = parseAllowedHosts(vars.FETCH_ALLOWED_HOSTS);
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
  }
  if (set(vars.FETCH_TIMEOUT_MS))
    config.fetchTimeoutMs = positiveNumber('FETCH_TIMEOUT_MS', vars.FETCH_TIMEOUT_MS, true);
  if (set(vars.RESULT_CACHE)) {
    const value = vars.RESULT_CACHE.trim().toLowerCase();
    if (value !== 'on' && value !== 'off')
      throw new ConfigError(`RESULT_CACHE must be on or off, got ${JSON.stringify(vars.RESULT_CACHE)}`);
    config.resultCache = value === 'on';
  }
  return config;
}
