/**
 * POST /v1/embed: the same inputs and limits as /v1/classify, answered with each image's embedding — the model's
 * pooled features before the classifier head, L2-normalised, so a dot product of two is their cosine similarity.
 * Float32 values as JSON numbers, or `encoding=base64`: the little-endian float32 bytes, base64.
 */
import type { Hono } from 'hono';
import * as v from 'valibot';
import { timing } from 'hono/timing';
import { ApiError } from '../problems.js';
import { bodyKind, ImageUrlsBody } from '../http/body.js';
import { modelParam, shown } from '../http/params.js';
import { parseQuery } from '../http/validate.js';
import { ref } from '../openapi/problems.js';
import type { RouteOperation } from '../openapi/types.js';
import { classifyOperation } from './classify.js';
import { answerCache } from './answer-cache.js';
import type { RouteContext } from './context.js';
import { imageBodyLimit, inputSource, readInputs } from './inputs.js';
import { requestTimings, roundTimings, runImages, withModelLease } from './run-images.js';

export const EMBED_ENCODINGS = ['json', 'base64'] as const;

/** The query's validator, and through it the document's parameters (worker/service/openapi/request.ts). */
export const embedQuery = v.object({
  model: modelParam,
  encoding: v.optional(
    v.pipe(
      v.picklist(EMBED_ENCODINGS, (issue) => `encoding must be json or base64, got ${shown(issue.input)}`),
      v.description('json: float32 values as numbers; base64: their little-endian bytes'),
    ),
    'json',
  ),
});
export type EmbedEncoding = (typeof EMBED_ENCODINGS)[number];

/** The OpenAPI description of the handler below; the bodies are classify's (worker/service/routes/classify.ts). */
export const embedOperation: RouteOperation = {
  method: 'post',
  path: '/v1/embed',
  auth: true,
  query: embedQuery,
  jsonBody: ImageUrlsBody,
  problems: [...classifyOperation.problems, 'no-embedding'],
  operation: {
    operationId: 'embed',
    summary: "Each image's embedding: the pooled features before the classifier head, L2-normalised",
    parameters: classifyOperation.operation.parameters,
    requestBody: classifyOperation.operation.requestBody,
    responses: {
      '200': {
        description: 'One image: EmbedResult. A batch (multipart or urls): EmbedBatchResult, in request order.',
        headers: (classifyOperation.operation.responses as { '200': { headers: unknown } })['200'].headers,
        content: {
          'application/json': {
            schema: { oneOf: [ref('schemas', 'EmbedResult'), ref('schemas', 'EmbedBatchResult')] },
          },
        },
      },
    },
  },
};

/** Little-endian float32 bytes as base64 (btoa: available in workerd, browsers and Node alike). */
export function float32Base64(values: Float32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function registerEmbedRoute(app: Hono, routes: RouteContext): void {
  const { registry, config, clock } = routes;
  app.post(
    '/v1/embed',
    imageBodyLimit(routes),
    timing({ total: false, enabled: (c) => c.res.status === 200 }),
    async (c) => {
      const started = clock();
      const query = parseQuery(embedQuery, new URL(c.req.url).searchParams);
      const params = { model: query.model ?? config.defaultModel, encoding: query.encoding };
      const entry = await registry.find(params.model);
      // An older build has no embedding output: said before the upload is read or the model loaded.
      if (!entry.embedding) {
        throw new ApiError('no-embedding', `model ${entry.name} was built without an embedding output; rebuild it`, {
          details: { model: entry.name },
        });
      }
      const dims = entry.embedding.shape[1];
      const kind = bodyKind(c.req.header('content-type'));
      return withModelLease(c, routes, entry.name, async (model) => {
        const fetchStarted = clock();
        const { inputs, batch } = await readInputs(c.req.raw, kind, routes);
        const fetchMs = kind === 'json' ? clock() - fetchStarted : undefined;
        // As in classify: one image's embedding may be cached, under its own endpoint and encoding.
        const cached = await answerCache(c, routes, {
          inputs,
          batch,
          cacheable: true,
          key: { endpoint: 'embed', modelSha256: entry.sha256, parameters: `encoding=${params.encoding}` },
          started,
        });
        if (cached.hit) return c.json(cached.hit);
        // topK 1: the pipeline's top-k is not answered here, the embedding is.
        const outcome = await runImages(routes, { inputs, entry, model, topK: 1, embed: true });
        const totals = requestTimings(c, outcome, { started, fetchMs, clock });
        const encode = (values: Float32Array) =>
          params.encoding === 'base64' ? float32Base64(values) : Array.from(values);
        const common = { model: entry.id, dims, ...(params.encoding === 'base64' ? { encoding: 'base64' } : {}) };

        if (!batch) {
          const [image] = outcome.images;
          if (!image.ok) throw image.error;
          const answer = { ...common, embedding: encode(image.embedding!) };
          cached.store(answer);
          return c.json({ ...answer, timing: totals });
        }
        return c.json({
          ...common,
          results: outcome.images.map((image, index) => {
            const source = inputSource(inputs[index]);
            return image.ok
              ? { ...source, embedding: encode(image.embedding!), timing: roundTimings(image.timing) }
              : { ...source, error: image.error.toProblem() };
          }),
          timing: totals,
        });
      });
    },
  );
}
