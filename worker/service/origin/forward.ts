/**
 * Forwarding one /v1/* POST to the GPU origin and answering with the origin's JSON, its `timing` stages kept and two
 * added: `origin_ms` (the origin's own total) and `hop_ms` (the rest of the round trip: network, upload, the
 * origin's HTTP handling), with `total_ms` the edge's total. The same stages go out as Server-Timing, so the route
 * must run hono/timing's `timing()` middleware (as /v1/classify does). The pipeline forwards every task's requests for origin models through here (pipeline/origin.ts).
 */
import type { Context } from 'hono';
import { setMetric } from 'hono/timing';
import { ApiError } from '../problems.js';
import { type Clock, roundMs, SERVER_TIMING_NAMES, type StageTimings } from '../http/timing.js';
import type { JsonObject, OriginClient } from './client.js';

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

function serverTimingName(stage: string): string {
  return SERVER_TIMING_NAMES[stage as keyof StageTimings] ?? stage.replace(/_ms$/, '').replaceAll('_', '-');
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
