/**
 * Forwarding one /v1/* POST to the GPU origin and answering with the origin's JSON, its `timing` stages kept and two
 * added: `origin_ms` (the origin's own total) and `hop_ms` (the rest of the round trip: network, upload, the
 * origin's HTTP handling), with `total_ms` the edge's total. The same stages go out as Server-Timing, so the route
 * must run hono/timing's `timing()` middleware (as /v1/classify does). Any route with an origin model calls it.
 */
import type { Context } from 'hono';
import { setMetric } from 'hono/timing';
import { ApiError } from '../problems.js';
import { type BodyKind, readImageUrls, readMultipartImages } from '../http/body.js';
import { type Clock, roundMs, SERVER_TIMING_NAMES, type StageTimings } from '../http/timing.js';
import type { ModelRegistry } from '../registry/registry.js';
import type { JsonObject, OriginClient } from './client.js';

export const ORIGIN_TIMING_NAMES = Object.freeze({ origin_ms: 'origin', hop_ms: 'hop' });

export interface ForwardRequest {
  /** The API path, e.g. `/v1/classify`. */
  path: string;
  /** Sent as is (the caller has removed what only the edge reads, and named the model). */
  query: URLSearchParams;
  /** The body as received (a stream, sent on as it arrives) or as read. */
  body: ReadableStream<Uint8Array> | Uint8Array | null;
  contentType: string | undefined;
  /** A 2xx body that fails this is a malformed answer: 502 origin-error. */
  check?: (body: JsonObject) => boolean;
}

/** The origin a request for `model` goes to: there is one, and this host's manifest lacks the model. */
export async function originFor(
  registry: ModelRegistry,
  origin: OriginClient | undefined,
  model: string,
): Promise<OriginClient | undefined> {
  if (!origin) return undefined;
  const here = (await registry.manifest()).models.some((entry) => entry.name === model);
  return here ? undefined : origin;
}

function serverTimingName(stage: string): string {
  return (
    SERVER_TIMING_NAMES[stage as keyof StageTimings] ??
    ORIGIN_TIMING_NAMES[stage as keyof typeof ORIGIN_TIMING_NAMES] ??
    stage.replace(/_ms$/, '').replaceAll('_', '-')
  );
}

export async function forwardToOrigin(
  c: Context,
  { origin, clock }: { origin: OriginClient; clock: Clock },
  request: ForwardRequest,
): Promise<Response> {
  const started = clock();
  const query = request.query.toString();
  const answer = await origin.post(
    `${request.path}${query ? `?${query}` : ''}`,
    request.body ?? new Uint8Array(0),
    request.contentType,
  );
  if (request.check && !request.check(answer.body)) {
    throw new ApiError('origin-error', `the GPU origin's answer to ${request.path} is not what this API answers`);
  }
  const stages: Record<string, number> = {};
  const reported = answer.body.timing;
  if (typeof reported === 'object' && reported !== null) {
    for (const [stage, ms] of Object.entries(reported)) if (typeof ms === 'number') stages[stage] = ms;
  }
  const originTotal = stages.total_ms;
  delete stages.total_ms;
  const timing: Record<string, number> = {
    ...stages,
    ...(originTotal === undefined ? {} : { origin_ms: originTotal }),
    hop_ms: roundMs(Math.max(0, answer.roundTripMs - (originTotal ?? 0))),
    total_ms: roundMs(clock() - started),
  };
  for (const [stage, ms] of Object.entries(timing)) setMetric(c, serverTimingName(stage), ms, undefined, 2);
  return c.json({ ...answer.body, timing });
}

/**
 * The body to forward, after the edge's own limits: the byte limit has been enforced by the route's body-limit
 * middleware; a multipart batch or a JSON list of image URLs is read (bounded by that limit) to count its images
 * against MAX_BATCH before any of it is sent. A raw body streams through, unless `buffer` asks for its bytes (a fallback may need to read it again).
 */
export async function edgeCheckedBody(
  raw: Request,
  kind: BodyKind,
  { maxBatch, buffer }: { maxBatch: number; buffer: boolean },
): Promise<{ body: ReadableStream<Uint8Array> | Uint8Array | null; images: number }> {
  if (kind === 'single' && !buffer) return { body: raw.body, images: 1 };
  const bytes = new Uint8Array(
    await raw.arrayBuffer().catch((error: unknown) => {
      throw new ApiError('malformed-body', `the request body cannot be read: ${String(error)}`, { cause: error });
    }),
  );
  if (kind === 'single') return { body: bytes, images: 1 };
  const copy = () =>
    new Request(raw.url, {
      method: 'POST',
      body: bytes,
      headers: { 'content-type': raw.headers.get('content-type') ?? '' },
    });
  // A JSON body of image URLs: its count is checked here; the origin fetches them, under its own policy.
  if (kind === 'json') return { body: bytes, images: (await readImageUrls(copy(), maxBatch)).urls.length };
  const images = await readMultipartImages(copy(), maxBatch);
  return { body: bytes, images: images.length };
}
