/**
 * The optional edge fallback for origin models: `fallback=<edge model>` on a request (or ORIGIN_FALLBACK for requests
 * that do not say; `fallback=none` opts out) lets an origin fault be answered by that edge model instead, with a
 * `Fallback` header and a `fallback` field saying so.
 */
import { ApiError } from '../problems.js';

export const FALLBACK_HEADER = 'Fallback';

/**
 * The edge model to fall back on, or undefined; `requested` is the validated `fallback` parameter (classify's query
 * schema), checked here against `edgeModels`, the names this edge serves, which only the running service knows.
 */
export function parseFallback(
  requested: string | undefined,
  configured: string | undefined,
  edgeModels: readonly string[],
): string | undefined {
  if (requested === undefined) return configured && edgeModels.includes(configured) ? configured : undefined;
  const name = requested.trim();
  if (name === 'none') return undefined;
  if (!edgeModels.includes(name)) {
    throw new ApiError(
      'bad-parameter',
      `fallback must be a model this edge serves (${edgeModels.join(', ')}) or none, got ${JSON.stringify(name.slice(0, 64))}`,
      { details: { parameter: 'fallback' } },
    );
  }
  return name;
}

export interface FallbackReport {
  /** The edge model that answered. */
  model: string;
  /** The origin model the request asked for. */
  requested: string;
  /** The origin fault's problem code. */
  reason: string;
  detail: string;
}

export function fallbackHeader(report: FallbackReport): string {
  return `${report.model}; requested=${report.requested}; reason=${report.reason}`;
}
