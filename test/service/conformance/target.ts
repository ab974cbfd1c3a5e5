import type { ServiceConfig } from '../../../worker/service/config.js';
import type { TinyModelInfo } from './test-data.js';

/**
 * What a conformance runner hands the shared cases: a way to send HTTP requests to one running service (the Worker
 * inside workerd, or the Node server) and a way to read the shared fixtures. Runtime-neutral: the workerd runner
 * imports this inside workerd.
 */
export interface ConformanceTarget {
  /** Which runtime answers; only used in test names. */
  name: 'workerd' | 'node';
  /** Sends a request to the service; `path` starts with '/' and may carry a query. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** A file under ../shared, e.g. 'fixtures/golden/m0.json'. */
  shared(path: string): Promise<Uint8Array>;
  /** Sends a whole Request to the service: its path, query, method, headers and body (the host is the runner's). */
  send(request: Request): Promise<Response>;
  /** `shared/…` (../shared), `fixtures/…` (test/fixtures) or `generated/…` (the solid-colour images, test-data.ts). */
  file(path: string): Promise<Uint8Array>;
  /** The tiny classifiers' weights, to compute the scores a solid colour must get. */
  tinyModels: readonly TinyModelInfo[];
  /** The float64 reference's L2-normalised pooled features per golden variant (models.ts, referenceEmbeddings). */
  referenceEmbeddings: Record<'m0' | 'm1', number[][]>;
  /** The same service and models with some configuration overridden; its `send`. */
  withConfig(overrides: Partial<ServiceConfig>): Promise<(request: Request) => Promise<Response>>;
}

/** Model names the cases use; test/service/conformance/models.ts writes them. */
export const CONFORMANCE_MODELS = Object.freeze({
  /** fp32 M0 and M1 exported from the synthetic checkpoints the golden logits came from. */
  m0: 'm0-fp32',
  m1: 'm1-fp32',
  /** A tiny real classifier: the default model, cheap enough to check "still serving" after every bad input. */
  tiny: 'tiny',
  /** Broken on purpose: 503 model-unavailable. */
  missing: 'tiny-missing',
  corrupt: 'tiny-corrupt',
  tampered: 'tiny-tampered',
});

/** The service configuration both runners use (the workerd project's bindings in vitest.config.ts). */
export const CONFORMANCE_CONFIG = Object.freeze({
  DEFAULT_MODEL: CONFORMANCE_MODELS.tiny,
  MAX_BODY_BYTES: String(4 * 1024 * 1024),
  MAX_MEGAPIXELS: '4',
  MAX_BATCH: '8',
  // The image origin of test/service/conformance/url-cache.cases.ts, listed exactly: loopback and plain http allowed for it.
  FETCH_ALLOWED_HOSTS: '127.0.0.1',
  FETCH_TIMEOUT_MS: '1000',
});
