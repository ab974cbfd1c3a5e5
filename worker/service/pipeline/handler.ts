/**
 * The one request pipeline, for every task (tasks/*.ts): the query validated → the model resolved once (here, or
 * the GPU origin's: origin.ts) → the body read → the result cache → the model lease → decode, preprocess, run
 * (run.ts) → the task's postprocessing → the answer, its `timing` and Server-Timing. A task supplies only its query,
 * its postprocessing, its cache key and its answer's schema (worker/api).
 */
import type { Context, Hono } from 'hono';
import { timing } from 'hono/timing';
import type { FallbackReport } from '../../api/common.js';
import type { ManifestModel } from '../../core/manifest/manifest.js';
import { bodyKind } from '../http/body.js';
import { noteRequest } from '../http/request-log.js';
import { parseQuery } from '../http/validate.js';
import { FALLBACK_HEADER, fallbackHeader } from '../origin/fallback.js';
import type { Services } from '../services.js';
import { answerCache } from './answer-cache.js';
import { imageBodyLimit, inputSource, inputsOf, type ReadBody, readBody } from './inputs.js';
import { forwardTask } from './origin.js';
import { runTask } from './run.js';
import { requestTimings, roundTimings, serverTiming } from './stages.js';
import type { Task } from './task.js';

/** POST <task's path>: the body limit, Server-Timing on answers, the pipeline. */
export function registerTask(app: Hono, services: Services, task: Task): void {
  app.post(
    task.operation.path,
    imageBodyLimit(services),
    timing({ total: false, enabled: (c) => c.res.status === 200 }),
    (c) => handleTask(c, services, task),
  );
}

async function handleTask(c: Context, services: Services, task: Task): Promise<Response> {
  const { registry, origin, clock, config } = services;
  const started = clock();
  // Everything that can be refused without the body is checked before reading it.
  const search = new URL(c.req.url).searchParams;
  const params = task.params(parseQuery(task.operation.query, search), config);
  noteRequest(c, { model: params.model });
  const kind = bodyKind(c.req.header('content-type'));
  const answerHere = (request: {
    params: typeof params;
    entry: ManifestModel;
    body: ReadBody;
    fallback?: FallbackReport;
  }) => answerWithModel(c, services, task, { ...request, started });

  const entry = await registry.lookup(params.model);
  if (!entry && origin) {
    return forwardTask(c, services, {
      task,
      origin,
      params,
      query: search,
      kind,
      answerHere: (fallback) => {
        task.check(fallback.entry, fallback.params);
        return answerHere(fallback);
      },
    });
  }
  // No such model anywhere: 404 unknown-model, naming the models there are.
  const here = entry ?? (await registry.find(params.model));
  task.check(here, params);
  return answerHere({ params, entry: here, body: await readBody(c.req.raw, kind, config.maxBatch) });
}

/** The task answered with an edge model; `fallback` marks an answer given in an origin model's place. */
async function answerWithModel(
  c: Context,
  services: Services,
  task: Task,
  request: {
    params: { model: string };
    entry: ManifestModel;
    body: ReadBody;
    started: number;
    fallback?: FallbackReport;
  },
): Promise<Response> {
  const { params, entry, started } = request;
  noteRequest(c, { model: params.model });
  const { inputs, batch, fetchMs } = await inputsOf(request.body, services);
  noteRequest(c, { batch: inputs.length });
  const fallback = request.fallback ? { fallback: request.fallback } : {};
  if (request.fallback) c.header(FALLBACK_HEADER, fallbackHeader(request.fallback));

  // One image: its answer may already be cached (same bytes, same model file, same answer parameters).
  const cached = await answerCache(c, services, {
    inputs,
    batch,
    key: { endpoint: task.name, modelSha256: entry.sha256, parameters: task.cacheKey(params) },
    started,
  });
  if (cached.hit) return c.json({ ...cached.hit, ...fallback });

  const outcome = await runTask(services, {
    task,
    params,
    entry,
    inputs,
    keepAlive: (work) => services.background(c, work),
  });
  const totals = requestTimings(outcome, { started, fetchMs, clock: services.clock });
  serverTiming(c, totals);
  const common = { model: entry.id, ...task.common(entry, params) };
  if (!batch) {
    const [image] = outcome.images;
    if (!image.ok) throw image.error;
    const answer = { ...common, ...image.answer };
    cached.store(answer);
    return c.json({ ...answer, timing: totals, ...fallback });
  }
  return c.json({
    ...common,
    results: outcome.images.map((image, index) => {
      const source = inputSource(inputs[index]);
      return image.ok
        ? { ...source, ...image.answer, timing: roundTimings(image.timing) }
        : { ...source, error: image.error.toProblem() };
    }),
    timing: totals,
    ...fallback,
  });
}
