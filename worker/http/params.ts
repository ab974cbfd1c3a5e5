import { ApiError } from '../errors.js';

export const DEFAULT_TOP_K = 5;
export const MAX_TOP_K = 1000;

/** What `include` may ask to add to each result (docs/api.md). */
export const INCLUDE_VALUES = ['input'] as const;
export type Include = (typeof INCLUDE_VALUES)[number];

export interface ClassifyParams {
  model: string;
  topK: number;
  /** Extra fields per result; `input`: the 224×224 crop the model saw, as a PNG data: URL. */
  include: ReadonlySet<Include>;
}

function badParameter(parameter: string, detail: string): ApiError {
  return new ApiError('bad-parameter', detail, { extensions: { parameter } });
}

/** `model`: an API name, or the configured default when absent; present but empty is a bad parameter. */
export function parseModelParam(query: URLSearchParams, defaultModel: string): string {
  const model = query.get('model');
  if (model !== null && model.trim() === '') throw badParameter('model', 'model must not be empty');
  return model ?? defaultModel;
}

/** `model` (parseModelParam) and `top_k` (integer 1..1000, default 5). */
export function parseClassifyParams(query: URLSearchParams, defaultModel: string): ClassifyParams {
  const model = parseModelParam(query, defaultModel);
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
  return { model, topK, include: parseInclude(query.get('include')) };
}

function parseInclude(raw: string | null): ReadonlySet<Include> {
  const include = new Set<Include>();
  if (raw === null) return include;
  for (const value of raw.split(',')) {
    if (!(INCLUDE_VALUES as readonly string[]).includes(value)) {
      throw badParameter(
        'include',
        `include takes a comma-separated list of ${INCLUDE_VALUES.join(', ')}, got ${JSON.stringify(value.slice(0, 32))}`,
      );
    }
    include.add(value as Include);
  }
  return include;
}

/** A model may have fewer classes than the API's maximum top_k. */
export function checkTopKFits(topK: number, classes: number): void {
  if (topK > classes) throw badParameter('top_k', `top_k ${topK} exceeds the model's ${classes} classes`);
}
