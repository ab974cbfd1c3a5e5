/**
 * What classify and embed do alike around the pipeline: hold the model for the request, run its images (failed
 * fetches keeping their slots), and total the stages into the body's `timing` and the Server-Timing header.
 */
import type { Context } from 'hono';
import { setMetric } from 'hono/timing';
import type { ManifestModel } from '../../core/manifest/manifest.js';
import { type BatchOutcome, classifyImages } from '../pipeline/run.js';
import type { UploadedImage } from '../http/body.js';
import { type Clock, roundMs, SERVER_TIMING_NAMES, type StageTimings } from '../http/timing.js';
import { type LoadedModel, type ModelLease, takeLoadTiming } from '../registry/registry.js';
import type { RouteContext } from './context.js';
import type { Input } from './inputs.js';

/**
 * Runs `work` holding the model `name`. The load starts as the request arrives, overlapping the upload and the
 * decode, and is kept alive past this request's end (background), so a request that fails or is answered early still
 * leaves the model loaded for the next one. The lease keeps the session from being released (to make room for
 * another model) until `work` has built the response.
 */
export async function withModelLease<T>(
  c: Context,
  { registry, background }: RouteContext,
  name: string,
  work: (model: () => Promise<LoadedModel>) => Promise<T>,
): Promise<T> {
  const cold = !registry.isLoaded(name);
  const lease: Promise<ModelLease> = registry.acquire(name);
  // A failed load reaches the request when it asks for the model; the background hold only keeps it running.
  const settled = lease.catch(() => undefined);
  if (cold) background(c, settled);
  try {
    return await work(() => lease.then((held) => held.value));
  } finally {
    lease.then(
      (held) => held.release(),
      () => undefined,
    );
  }
}

/** The request's images through the pipeline, answered in the order they were asked: a failed fetch keeps its slot. */
export async function runImages(
  { config, images, clock }: RouteContext,
  request: {
    inputs: readonly Input[];
    entry: ManifestModel;
    model: () => Promise<LoadedModel>;
    topK: number;
    keepInputs?: boolean;
    embed?: boolean;
  },
): Promise<BatchOutcome> {
  const { inputs, entry } = request;
  const uploads = inputs.filter((input): input is UploadedImage => 'bytes' in input);
  const outcome = await classifyImages({
    images: uploads.map((upload) => upload.bytes),
    model: request.model,
    preprocessing: entry.preprocessing,
    inputSize: entry.preprocessing.centerCrop,
    topK: request.topK,
    maxPixels: config.maxImagePixels,
    maxDecodeBytes: config.maxDecodeBytes,
    support: images,
    clock,
    keepInputs: request.keepInputs,
    embed: request.embed,
  });
  let next = 0;
  return {
    ...outcome,
    images: inputs.map((input) =>
      'bytes' in input ? outcome.images[next++] : { ok: false as const, error: input.error },
    ),
  };
}

export function roundTimings<T extends object>(timings: T): T {
  return Object.fromEntries(Object.entries(timings).map(([key, ms]) => [key, roundMs(ms as number)])) as T;
}

export function serverTiming(c: Context, timings: StageTimings): void {
  for (const [stage, name] of Object.entries(SERVER_TIMING_NAMES) as [keyof StageTimings, string][]) {
    const ms = timings[stage];
    if (ms !== undefined) setMetric(c, name, ms, undefined, 2);
  }
}

/**
 * The request's stages: decode and preprocess summed over its images, the one batched session call, the fetch (by
 * URL), the total since `started`, and the model load's stages on the request that loaded it. Also sent as
 * Server-Timing.
 */
export function requestTimings(
  c: Context,
  outcome: BatchOutcome,
  request: { started: number; fetchMs?: number; clock: Clock },
): StageTimings {
  const sum = (stage: 'decode_wait_ms' | 'decode_ms' | 'preprocess_ms') =>
    outcome.images.reduce((total, image) => total + (image.ok ? image.timing[stage] : 0), 0);
  const totals = roundTimings<StageTimings>({
    decode_wait_ms: sum('decode_wait_ms'),
    decode_ms: sum('decode_ms'),
    preprocess_ms: sum('preprocess_ms'),
    model_wait_ms: outcome.model_wait_ms,
    inference_ms: outcome.inference_ms,
    ...(request.fetchMs !== undefined ? { fetch_ms: request.fetchMs } : {}),
    total_ms: request.clock() - request.started,
    ...(outcome.model ? takeLoadTiming(outcome.model) : undefined),
  });
  serverTiming(c, totals);
  return totals;
}
