/** POST /v1/classify as a task of the pipeline: the logits' top-k with the model's labels (and the crop it saw). */
import type * as v from 'valibot';
import type { BatchResult, ClassifiedImage, ClassifyQuery } from '../../api/classify.js';
import { classifyOperation } from '../../api/classify.js';
import type { Prediction } from '../../api/common.js';
import type { Include } from '../../api/params.js';
import { encodePng, pngDataUrl } from '../../core/image/png-encode.js';
import type { ClassLabel } from '../../core/manifest/manifest.js';
import { topK } from '../../core/postprocess/top-k.js';
import { inputToRgb } from '../../core/preprocess/transform.js';
import { ApiError } from '../problems.js';
import type { Task } from '../pipeline/task.js';

export interface ClassifyParams {
  model: string;
  topK: number;
  /** Extra members per result; `input`: the 224×224 crop the model saw, as a PNG data: URL. */
  include: ReadonlySet<Include>;
  fallback?: string;
}

type ClassifiedAnswer = v.InferOutput<v.ObjectSchema<typeof ClassifiedImage, undefined>>;

/** The k best classes of one row of logits, named by the model's labels. */
export function predictions(logits: Float32Array, k: number, labels: readonly ClassLabel[]): Prediction[] {
  return topK(logits, k).map(({ index, score }) => ({
    index,
    label: labels[index].label,
    ...(labels[index].synset ? { synset: labels[index].synset } : {}),
    score,
  }));
}

export const classifyTask: Task<typeof ClassifyQuery, ClassifyParams> = {
  name: 'classify',
  operation: classifyOperation as Task<typeof ClassifyQuery, ClassifyParams>['operation'],
  params: (query, config) => ({
    model: query.model ?? config.defaultModel,
    topK: query.top_k,
    include: new Set(query.include),
    fallback: query.fallback,
  }),
  check(entry, params) {
    // A model may have fewer classes than the API's largest top_k.
    const classes = entry.output.shape[1];
    if (params.topK > classes) {
      throw new ApiError('bad-parameter', `top_k ${params.topK} exceeds the model's ${classes} classes`, {
        details: { parameter: 'top_k' },
      });
    }
  },
  needs: (params) => ({ input: params.include.has('input') }),
  // include= asks for more than a stored answer holds: always computed.
  cacheKey: (params) => (params.include.size === 0 ? `top_k=${params.topK}` : undefined),
  common: () => ({}),
  async image(row, model, params): Promise<ClassifiedAnswer> {
    const answer: ClassifiedAnswer = { predictions: predictions(row.logits, params.topK, model.labels) };
    // The demo's extra: the crop back from the model input (exact: see inputToRgb).
    if (row.input) answer.input = pngDataUrl(await encodePng(inputToRgb(row.input, model.entry.preprocessing)));
    return answer;
  },
  isAnswer: (body) => Array.isArray(body.predictions) || Array.isArray(body.results),
};

export type { BatchResult };
