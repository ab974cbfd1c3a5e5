/**
 * One record per request, for hosts that log them (the Node build and the Worker write each as a JSON line; the
 * Worker also turns it into a metrics data point, metrics.ts): the middleware times the request and reads the answer's
 * own headers (Server-Timing, X-Cache, Fallback, the problem's code), and routes add what only they know (the model,
 * the number of images) with noteRequest. Never the body, the query or any header value but Content-Length and
 * cf-ray: no image bytes and no token can reach a log. docs/operations.md lists the fields.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { PROBLEM_CONTENT_TYPE } from '../../api/problems.js';
import { STAGES } from '../../api/timing.js';
import type { Clock } from './timing.js';

/** Where the answer was computed: by this host, by the GPU origin, or by this host after the origin failed. */
export type Ran = 'here' | 'origin' | 'fallback';

export interface RequestRecord {
  time: string;
  /** cf-ray on Cloudflare (the id its own logs use), else a random UUID. */
  id: string;
  method: string;
  path: string;
  /** The route pattern that answered (e.g. /v1/classify); null when none did (404 not-found). */
  route: string | null;
  model: string | null;
  status: number;
  /** The problem's `code` for an error answer (worker/api/problems.ts), else null. */
  problem: string | null;
  ms: number;
  /** Images in the request: 1 for a raw body, the batch size for multipart; null where none were read. */
  batch: number | null;
  /** The answer's stages in milliseconds, as its Server-Timing header says (e.g. decode_ms, inference_ms). */
  stages: Record<string, number>;
  /** The result cache: hit, miss, or null where it was not consulted. */
  cache: 'hit' | 'miss' | null;
  /** Request body bytes as declared by Content-Length (null: chunked or none). */
  bytes_in: number | null;
  /** Answer body bytes as declared by its Content-Length (null: streamed). */
  bytes_out: number | null;
  ran: Ran;
  /** The Cloudflare data centre that ran it (request.cf.colo); null elsewhere. */
  colo: string | null;
}

export type RequestLog = (record: RequestRecord, request: Request) => void;

declare module 'hono' {
  interface ContextVariableMap {
    requestNote: { model?: string; batch?: number };
  }
}

export function noteRequest(c: Context, note: { model?: string; batch?: number }): void {
  c.set('requestNote', { ...c.get('requestNote'), ...note });
}

const STAGE_OF_METRIC = new Map<string, string>(Object.entries(STAGES).map(([stage, metric]) => [metric, stage]));

/** `decode;dur=1.5, inference;dur=3` → { decode_ms: 1.5, inference_ms: 3 } (the stages' own names only). */
export function parseServerTiming(header: string | null): Record<string, number> {
  const stages: Record<string, number> = {};
  for (const entry of header?.split(',') ?? []) {
    const [name, ...params] = entry.trim().split(';');
    const stage = STAGE_OF_METRIC.get(name.trim());
    const dur = params.map((p) => /^\s*dur=([\d.]+)\s*$/.exec(p)?.[1]).find((d) => d !== undefined);
    if (stage && dur !== undefined) stages[stage] = Number(dur);
  }
  return stages;
}

const count = (header: string | null | undefined): number | null =>
  header && /^\d+$/.test(header) ? Number(header) : null;

async function problemCode(response: Response | undefined): Promise<string | null> {
  if (response?.headers.get('content-type') !== PROBLEM_CONTENT_TYPE) return null;
  try {
    const body = (await response.clone().json()) as { code?: unknown };
    return typeof body.code === 'string' ? body.code : null;
  } catch {
    return null;
  }
}

function ranWhere(response: Response | undefined, stages: Record<string, number>): Ran {
  if (response?.headers.get('fallback')) return 'fallback';
  return stages.origin_ms !== undefined ? 'origin' : 'here';
}

export function requestLogger(log: RequestLog, clock: Clock): MiddlewareHandler {
  return async (c, next) => {
    const started = clock();
    const time = new Date().toISOString();
    // Before the body limit may replace it: callers recognise their own requests by identity.
    const raw = c.req.raw;
    try {
      await next();
    } finally {
      const ms = Math.round((clock() - started) * 100) / 100;
      const note = c.get('requestNote') ?? {};
      // An error escaping next() is answered by the app's error handler as a 500.
      const response = c.finalized ? c.res : undefined;
      const stages = parseServerTiming(response?.headers.get('server-timing') ?? null);
      const route = c.req.matchedRoutes.findLast((r) => r.method !== 'ALL')?.path ?? null;
      const cache = response?.headers.get('x-cache');
      log(
        {
          time,
          id: raw.headers.get('cf-ray') ?? crypto.randomUUID(),
          method: c.req.method,
          path: c.req.path,
          route,
          model: note.model ?? null,
          status: response?.status ?? 500,
          problem: response ? await problemCode(response) : 'internal-error',
          ms,
          batch: note.batch ?? null,
          stages,
          cache: cache === 'hit' || cache === 'miss' ? cache : null,
          bytes_in: count(raw.headers.get('content-length')),
          bytes_out: count(response?.headers.get('content-length')),
          ran: ranWhere(response, stages),
          colo: (raw as { cf?: { colo?: unknown } }).cf?.colo?.toString() ?? null,
        },
        raw,
      );
    }
  };
}
