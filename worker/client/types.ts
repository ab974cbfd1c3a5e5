/** The API's response bodies as the client returns them (the OpenAPI document's schemas, worker/service/openapi/schemas.ts). */
import type { ProblemCode } from '../api/problems.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  [extension: string]: unknown;
}

export interface Prediction {
  index: number;
  synset: string;
  label: string;
  score: number;
}

/** Milliseconds; a result-cache hit has only cache_ms and total_ms. */
export type Timing = { total_ms: number } & Partial<Record<string, number>>;

export interface ClassifyResult {
  model: string;
  predictions: Prediction[];
  timing: Timing;
  /** include: ['input']: the 224×224 crop the model saw, as a PNG data: URL. */
  input?: string;
}

export type BatchItem = { filename?: string; url?: string } & (
  | { predictions: Prediction[]; timing: Record<string, number>; input?: string; error?: undefined }
  | { error: Problem; predictions?: undefined }
);

export interface BatchResult {
  model: string;
  results: BatchItem[];
  timing: Timing;
}

export interface ModelInfo {
  name: string;
  id: string;
  variant: string;
  precision: 'fp32' | 'int8';
  bytes: number;
  sha256: string;
  source: {
    checkpoint: string;
    sha256: string;
    format: string;
    kind: 'synthetic-fixture' | 'checkpoint';
    note: string;
  };
  input: { name: string; shape: (string | number)[]; dtype: 'float32' };
  labels: string;
  classes: number;
  preprocessing: Record<string, unknown>;
  default: boolean;
  loaded: boolean;
}

export interface ModelsResult {
  backend: string;
  execution?: Record<string, unknown>;
  default: string;
  models: ModelInfo[];
}
