/**
 * A request's record (request-log.ts) as one Workers Analytics Engine data point. Positions are the schema (SQL reads
 * them as blob1…, double1…; docs/operations.md has the table and the queries): append, never reorder. The index is the
 * model, so that sampling keeps each model's share.
 */
import type { RequestRecord } from './request-log.js';

export interface MetricsDataPoint {
  indexes: string[];
  blobs: string[];
  doubles: number[];
}

export const METRIC_BLOBS = ['route', 'method', 'model', 'problem', 'cache', 'ran', 'colo', 'id'] as const;
export const METRIC_DOUBLES = [
  'status',
  'ms',
  'bytes_in',
  'bytes_out',
  'batch',
  'decode_ms',
  'preprocess_ms',
  'model_wait_ms',
  'inference_ms',
  'cache_ms',
  'origin_ms',
  'fetch_ms',
] as const;

/** Absent values are '' (blobs) and 0 (doubles, except bytes and batch: -1 where unknown, so 0 stays a real 0). */
export function dataPoint(record: RequestRecord): MetricsDataPoint {
  const blob: Record<(typeof METRIC_BLOBS)[number], string | null> = {
    route: record.route,
    method: record.method,
    model: record.model,
    problem: record.problem,
    cache: record.cache,
    ran: record.ran,
    colo: record.colo,
    id: record.id,
  };
  const unknown = (value: number | null) => value ?? -1;
  const double: Record<(typeof METRIC_DOUBLES)[number], number> = {
    status: record.status,
    ms: record.ms,
    bytes_in: unknown(record.bytes_in),
    bytes_out: unknown(record.bytes_out),
    batch: unknown(record.batch),
    decode_ms: record.stages.decode_ms ?? 0,
    preprocess_ms: record.stages.preprocess_ms ?? 0,
    model_wait_ms: record.stages.model_wait_ms ?? 0,
    inference_ms: record.stages.inference_ms ?? 0,
    cache_ms: record.stages.cache_ms ?? 0,
    origin_ms: record.stages.origin_ms ?? 0,
    fetch_ms: record.stages.fetch_ms ?? 0,
  };
  return {
    indexes: [record.model ?? ''],
    blobs: METRIC_BLOBS.map((name) => blob[name] ?? ''),
    doubles: METRIC_DOUBLES.map((name) => double[name]),
  };
}
