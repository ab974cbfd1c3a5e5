/**
 * A task is what one image operation does with the model's output (classify: the top-k with labels; embed: the
 * normalised pooled features). Everything else — resolving the model, reading the images, the result cache, the
 * model lease, decoding, preprocessing, the run, timing, the GPU origin and its fallback — is the one pipeline
 * (pipeline/handler.ts for HTTP, pipeline/run.ts for any caller), the same for every task.
 */
import type * as v from 'valibot';
import type { RouteOperation } from '../../api/operation.js';
import type { ManifestModel } from '../../core/manifest/manifest.js';
import type { ServiceConfig } from '../config.js';
import type { JsonObject } from '../origin/client.js';
import type { LoadedModel } from '../registry/registry.js';

/** What the run hands the task for one image. */
export interface ModelRow {
  /** The model's logits for the image. */
  logits: Float32Array;
  /** The pooled features (the graph's `embedding` output), as the model computed them; only with `needs.embedding`. */
  embedding?: Float32Array;
  /** The image's model input (a view of the batch tensor); only with `needs.input`. */
  input?: Float32Array;
}

/** What a run must keep beyond the logits. */
export interface RunNeeds {
  embedding?: boolean;
  input?: boolean;
}

export interface Task<
  Query extends v.GenericSchema = v.GenericSchema,
  Params extends { model: string } = { model: string },
> {
  /** The route is /v1/<name>; the result cache keys answers by it. */
  name: string;
  /** The contract: path, query schema, answer schema, problems (worker/api). */
  operation: RouteOperation & { query: Query };
  /** The validated query (and the configured defaults) as the task's parameters; `model` named. */
  params(query: v.InferOutput<Query>, config: ServiceConfig): Params & { fallback?: string };
  /** Checked before the body is read or the model loaded: the model can answer these parameters (else an ApiError). */
  check(entry: ManifestModel, params: Params): void;
  needs(params: Params): RunNeeds;
  /** The parameters an answer depends on (`top_k=5`); undefined: these parameters are not answered from the cache. */
  cacheKey(params: Params): string | undefined;
  /** Members every answer has besides `model` and the images' own (embed: dims, encoding). */
  common(entry: ManifestModel, params: Params): Record<string, unknown>;
  /** One image's members of the answer. */
  image(row: ModelRow, model: LoadedModel, params: Params): Promise<Record<string, unknown>> | Record<string, unknown>;
  /** A 2xx body from the GPU origin is this task's answer (else 502 origin-error). */
  isAnswer(body: JsonObject): boolean;
}
