/**
 * The one place that talks to the GPU origin (a Node build of this same API): forwards a request with the edge's
 * bearer token under a deadline, reads the origin's model listing (cached briefly), and turns every way the origin
 * can fail into a problem: refused or unresolvable → 502 origin-unavailable, no answer in time → 504
 * origin-timeout, 5xx / redirect / malformed body / refused token → 502 origin-error. The origin's own 4xx and 503
 * problems pass through unchanged (503 with its Retry-After). Runtime-neutral: it only needs fetch.
 */
import { HTTPException } from 'hono/http-exception';
import { ApiError } from '../problems.js';
import { PROBLEM_CONTENT_TYPE } from '../../api/problems.js';
import { defaultClock, type Clock } from '../http/timing.js';
import type { OriginConfig } from './config.js';

/** A successful listing is reused this long; a failed one is retried sooner. */
export const LISTING_TTL_MS = 30_000;
export const LISTING_FAILURE_TTL_MS = 5_000;

export type JsonObject = Record<string, unknown>;

export interface OriginAnswer {
  /** The origin's 2xx JSON body. */
  body: JsonObject;
  /** From sending the request to having read the whole answer, in milliseconds. */
  roundTripMs: number;
}

export interface OriginListing {
  available: boolean;
  /** Why the origin's models are unavailable (only when `available` is false). */
  reason?: string;
  /** The origin's /v1/models body: the last one read, kept while the origin is unreachable (absent if never read). */
  listing?: { default?: unknown; backend?: unknown; execution?: unknown; models: JsonObject[] };
}

export interface OriginClient {
  readonly config: OriginConfig;
  /** POST `body` to the origin at `pathAndQuery` (e.g. `/v1/classify?model=m5-fp32`). Faults throw. */
  post(pathAndQuery: string, body: BodyInit, contentType: string | undefined): Promise<OriginAnswer>;
  /** The origin's models, from a listing at most LISTING_TTL_MS old; never throws. */
  models(): Promise<OriginListing>;
}

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isProblem = (body: unknown): body is JsonObject =>
  isObject(body) && typeof body.status === 'number' && typeof body.code === 'string' && typeof body.type === 'string';

function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.slice(0, 200) || 'no reason given';
}

/** The origin's problem, answered as is (only the headers that matter to a client are kept). */
function passThrough(status: number, problem: JsonObject, headers: Headers): HTTPException {
  const kept: Record<string, string> = { 'content-type': PROBLEM_CONTENT_TYPE };
  const retryAfter = headers.get('retry-after');
  if (retryAfter) kept['Retry-After'] = retryAfter;
  const www = headers.get('www-authenticate');
  if (www) kept['WWW-Authenticate'] = www;
  return new HTTPException(status as 400, { res: new Response(JSON.stringify(problem), { status, headers: kept }) });
}

function originError(detail: string, status?: number): ApiError {
  return new ApiError('origin-error', detail, { details: status === undefined ? {} : { originStatus: status } });
}

/** Whether `error` is the origin failing (as opposed to the request being wrong): what an edge fallback may answer. */
export function isOriginFault(error: unknown): boolean {
  if (error instanceof ApiError) {
    return ['origin-unavailable', 'origin-timeout', 'origin-error', 'overloaded'].includes(error.code);
  }
  return error instanceof HTTPException && error.status === 503;
}

/** The problem code of an origin fault, for the fallback's report. */
export function faultCode(error: unknown): string {
  // The origin's own 503 problems (overloaded, model-unavailable) are all "busy, retry later" to the edge.
  return error instanceof ApiError ? error.code : 'overloaded';
}

export function createOriginClient(
  config: OriginConfig,
  options: { fetch?: typeof fetch; clock?: Clock; now?: () => number } = {},
): OriginClient {
  const fetcher = options.fetch ?? ((input, init) => fetch(input, init));
  const clock = options.clock ?? defaultClock;
  const now = options.now ?? Date.now;
  const authorization: Record<string, string> = config.token ? { Authorization: `Bearer ${config.token}` } : {};

  /** One request and its whole answer under the deadline; network failures and the deadline become problems. */
  async function exchange(pathAndQuery: string, init: RequestInit): Promise<{ response: Response; text: string }> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), config.timeoutMs);
    const late = () =>
      new ApiError('origin-timeout', `the GPU origin did not answer within ${config.timeoutMs} ms`, {
        details: { timeoutMs: config.timeoutMs },
      });
    try {
      let response: Response;
      try {
        // redirect: manual — an origin that redirects is misconfigured, and the token must not follow it elsewhere.
        response = await fetcher(config.url + pathAndQuery, { ...init, signal: controller.signal, redirect: 'manual' });
      } catch (error) {
        if (controller.signal.aborted) throw late();
        throw new ApiError('origin-unavailable', `the GPU origin cannot be reached: ${describe(error)}`, {
          cause: error,
        });
      }
      try {
        return { response, text: await response.text() };
      } catch (error) {
        if (controller.signal.aborted) throw late();
        throw originError(`the GPU origin's answer broke off: ${describe(error)}`, response.status);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  async function post(pathAndQuery: string, body: BodyInit, contentType: string | undefined): Promise<OriginAnswer> {
    const started = clock();
    const init = {
      method: 'POST',
      body,
      headers: {
        ...authorization,
        accept: 'application/json',
        ...(contentType ? { 'content-type': contentType } : {}),
      },
      // A stream body needs it in Node's fetch; workerd ignores it.
      duplex: 'half',
    } as RequestInit;
    const { response, text } = await exchange(pathAndQuery, init);
    const roundTripMs = clock() - started;
    const status = response.status;
    const parsed = parseJson(text);
    if (status >= 200 && status < 300) {
      if (!isObject(parsed))
        throw originError(`the GPU origin answered ${status} with a body that is not JSON`, status);
      return { body: parsed, roundTripMs };
    }
    if (status === 401 || status === 403) {
      throw originError(`the GPU origin refused the edge's credentials (${status}): check ORIGIN_TOKEN`, status);
    }
    if (status === 503) {
      if (isProblem(parsed)) throw passThrough(status, parsed, response.headers);
      const retryAfter = response.headers.get('retry-after');
      throw new ApiError('overloaded', 'the GPU origin is busy (503)', {
        headers: retryAfter ? { 'Retry-After': retryAfter } : {},
        details: { originStatus: status },
      });
    }
    if (status >= 400 && status < 500 && isProblem(parsed)) throw passThrough(status, parsed, response.headers);
    throw originError(
      status >= 500
        ? `the GPU origin failed with ${status}`
        : `the GPU origin answered ${status}, which is not an answer of this API`,
      status,
    );
  }

  let cached: { listing: OriginListing; expires: number } | undefined;
  let lastGood: OriginListing['listing'];
  let pending: Promise<OriginListing> | undefined;

  async function readListing(): Promise<OriginListing> {
    try {
      const { response, text } = await exchange('/v1/models', {
        headers: { ...authorization, accept: 'application/json' },
      });
      const parsed = parseJson(text);
      if (response.status === 401 || response.status === 403) {
        throw originError(`the GPU origin refused the edge's credentials (${response.status}): check ORIGIN_TOKEN`);
      }
      if (response.status !== 200) throw originError(`the GPU origin answered /v1/models with ${response.status}`);
      if (!isObject(parsed) || !Array.isArray(parsed.models) || !parsed.models.every(isObject)) {
        throw originError('the GPU origin answered /v1/models with a body that is not a model listing');
      }
      lastGood = {
        default: parsed.default,
        backend: parsed.backend,
        execution: parsed.execution,
        models: parsed.models as JsonObject[],
      };
      return { available: true, listing: lastGood };
    } catch (error) {
      const reason = error instanceof ApiError ? `${error.code}: ${error.message}` : describe(error);
      return { available: false, reason, ...(lastGood ? { listing: lastGood } : {}) };
    }
  }

  function models(): Promise<OriginListing> {
    if (cached && now() < cached.expires) return Promise.resolve(cached.listing);
    pending ??= readListing().then((listing) => {
      cached = { listing, expires: now() + (listing.available ? LISTING_TTL_MS : LISTING_FAILURE_TTL_MS) };
      pending = undefined;
      return listing;
    });
    return pending;
  }

  return { config, post, models };
}
