/**
 * POST /v1/embed as a task of the pipeline: each image's embedding — the model's pooled features before the
 * classifier head, L2-normalised, so a dot product of two is their cosine similarity. Float32 values as JSON
 * numbers, or `encoding=base64`: the little-endian float32 bytes, base64.
 */
import { type EmbedEncoding, type EmbedQuery, embedOperation } from '../../api/embed.js';
import { l2Normalized } from '../../core/postprocess/embedding.js';
import { ApiError } from '../problems.js';
import type { Task } from '../pipeline/task.js';

export interface EmbedParams {
  model: string;
  encoding: EmbedEncoding;
  fallback?: string;
}

/** Little-endian float32 bytes as base64 (btoa: available in workerd, browsers and Node alike). */
export function float32Base64(values: Float32Array): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export const embedTask: Task<typeof EmbedQuery, EmbedParams> = {
  name: 'embed',
  operation: embedOperation as Task<typeof EmbedQuery, EmbedParams>['operation'],
  params: (query, config) => ({
    model: query.model ?? config.defaultModel,
    encoding: query.encoding,
    fallback: query.fallback,
  }),
  check(entry) {
    // An older build has no embedding output: said before the upload is read or the model loaded.
    if (!entry.embedding) {
      throw new ApiError('no-embedding', `model ${entry.name} was built without an embedding output; rebuild it`, {
        details: { model: entry.name },
      });
    }
  },
  needs: () => ({ embedding: true }),
  cacheKey: (params) => `encoding=${params.encoding}`,
  common: (entry, params) => ({
    dims: entry.embedding!.shape[1],
    ...(params.encoding === 'base64' ? { encoding: 'base64' } : {}),
  }),
  image(row, _model, params) {
    const values = l2Normalized(row.embedding!);
    return { embedding: params.encoding === 'base64' ? float32Base64(values) : Array.from(values) };
  },
  isAnswer: (body) => body.embedding !== undefined || Array.isArray(body.results),
};
