import { ApiError } from '../errors.js';

export const DEFAULT_TOP_K = 5;
export const MAX_TOP_K = 1000;

export interface ClassifyParams {
  model: string;
  topK: number;
}

function badParameter(parameter: string, detail: string): ApiError {
  return new ApiError('bad-parameter', detail, { extensions: { parameter } });
}

/** `model` (API name, defaults to the configured default) and `top_k` (integer 1..1000, default 5). */
export function parseClassifyParams(query: URLSearchParams, defaultModel: string): ClassifyParams {
  const model = query.get('model');
  if (model !== null && model.trim() === '') throw badParameter('model', 'model must not be empty');
  const rawTopK = query.get('top_k');
  let topK = DEFAULT_TOP_K;
  if (rawTopK !== null) {
    if (!/^[0-9]{1,4}$/.test(rawTopK)) {
      throw badParameter(
        'top_k',
        `top_k must be an integer from 1 to ${MAX_TOP_K}, got ${JSON.stringify(rawTopK.slice(0, 32))}`,
      );
    }
    topK = Number(rawTopK);
    if (topK < 1 || topK > MAX_TOP_K) throw badParameter('top_k', `top_k must be from 1 to ${MAX_TOP_K}, got ${topK}`);
  }
  return { model: model ?? defaultModel, topK };
}

/** A model may have fewer classes than the API's maximum top_k. */
export function checkTopKFits(topK: number, classes: number): void {
  if (topK > classes) throw badParameter('top_k', `top_k ${topK} exceeds the model's ${classes} classes`);
}
