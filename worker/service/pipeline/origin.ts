/**
 * The pipeline for a model only the GPU origin serves, the same for every task: the edge's own limits first (the body
 * limit, MAX_BATCH, the parameters), then the request forwarded; on an origin fault, when the request or
 * ORIGIN_FALLBACK names an edge model, the same task answered here with it, from the body already read.
 */
import type { Context } from 'hono';
import type { FallbackReport } from '../../api/common.js';
import type { BodyKind } from '../http/body.js';
import { noteRequest } from '../http/request-log.js';
import { ApiError } from '../problems.js';
import { faultCode, isOriginFault, type OriginClient } from '../origin/client.js';
import { parseFallback } from '../origin/fallback.js';
import { forwardToOrigin } from '../origin/forward.js';
import type { Services } from '../services.js';
import { imageCount, type ReadBody, readBody } from './inputs.js';
import type { Task } from './task.js';

/** How handler.ts answers a task here: used for the fallback. */
export type AnswerHere = (request: {
  params: { model: string };
  entry: Awaited<ReturnType<Services['registry']['find']>>;
  body: ReadBody;
  fallback: FallbackReport;
}) => Promise<Response>;

/**
 * The body to forward, within the edge's limits (the byte limit is the route's middleware): a multipart batch or a
 * JSON list of URLs is read to count its images against MAX_BATCH before any of it is sent; a raw body streams
 * through unless a fallback may need it (`buffer`). What was read is kept, so a fallback never parses it again.
 */
async function checkedBody(
  raw: Request,
  kind: BodyKind,
  { maxBatch, buffer }: { maxBatch: number; buffer: boolean },
): Promise<{ body: ReadableStream<Uint8Array> | Uint8Array | null; read?: ReadBody }> {
  if (kind === 'single' && !buffer) return { body: raw.body };
  const bytes = new Uint8Array(
    await raw.arrayBuffer().catch((error: unknown) => {
      throw new ApiError('malformed-body', `the request body cannot be read: ${String(error)}`, { cause: error });
    }),
  );
  const copy = new Request(raw.url, {
    method: 'POST',
    body: bytes,
    headers: { 'content-type': raw.headers.get('content-type') ?? '' },
  });
  // A JSON body's URLs are counted here; the origin fetches them, under its own policy.
  return { body: bytes, read: await readBody(copy, kind, maxBatch) };
}

export async function forwardTask(
  c: Context,
  services: Pick<Services, 'config' | 'registry' | 'clock'>,
  request: {
    task: Task;
    origin: OriginClient;
    params: { model: string; fallback?: string };
    query: URLSearchParams;
    kind: BodyKind;
    answerHere: AnswerHere;
  },
): Promise<Response> {
  const { task, origin, params, kind } = request;
  const { registry, config, clock } = services;
  const edgeModels = (await registry.manifest()).models.map((model) => model.name);
  const fallbackModel = parseFallback(params.fallback, origin.config.fallback, edgeModels);
  const contentType = c.req.header('content-type');
  const { body, read } = await checkedBody(c.req.raw, kind, {
    maxBatch: config.maxBatch,
    buffer: fallbackModel !== undefined,
  });
  noteRequest(c, { batch: read ? imageCount(read) : 1 });
  const query = new URLSearchParams(request.query);
  query.delete('fallback');
  query.set('model', params.model);
  try {
    return await forwardToOrigin(
      c,
      { origin, clock },
      { path: task.operation.path, query, body, contentType, check: task.isAnswer },
    );
  } catch (error) {
    if (fallbackModel === undefined || !read || !isOriginFault(error)) throw error;
    const entry = await registry.find(fallbackModel);
    return request.answerHere({
      params: { ...params, model: fallbackModel },
      entry,
      body: read,
      fallback: {
        model: fallbackModel,
        requested: params.model,
        reason: faultCode(error),
        detail: error instanceof Error ? error.message || String(error) : String(error),
      },
    });
  }
}
