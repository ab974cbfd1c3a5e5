/**
 * Request builders and response checks shared by the HTTP cases of both runtimes (test/service/conformance/*.cases.ts) and
 * the workerd-only tests. Runtime-neutral: no Node or workerd APIs here.
 */
import { expect } from 'vitest';
import { IMAGENET_PREPROCESSING } from '../../../worker/core/manifest/manifest.js';
import type { ConformanceTarget } from './target.js';
import { SOLID_COLOURS, type TinyModelInfo } from './test-data.js';
import type { Prediction } from '../../../worker/api/common.js';

export type { Prediction };

export type Fetch = (request: Request) => Promise<Response>;

export function classifyRequest(
  body: BodyInit | null,
  options: { query?: string; contentType?: string | null; headers?: Record<string, string> } = {},
): Request {
  const headers = new Headers(options.headers);
  const contentType = options.contentType === undefined ? 'application/octet-stream' : options.contentType;
  if (contentType !== null) headers.set('content-type', contentType);
  return new Request(`http://edge.test/v1/classify${options.query ? `?${options.query}` : ''}`, {
    method: 'POST',
    body,
    headers,
  });
}

export function multipart(parts: { bytes: Uint8Array; filename?: string; field?: string }[]): FormData {
  const form = new FormData();
  for (const part of parts) form.append(part.field ?? 'image', new Blob([part.bytes]), part.filename ?? 'image.bin');
  return form;
}

/** A 200 response's JSON body; on any other status the failure message shows the body. */
export async function okJson<T>(response: Response): Promise<T> {
  const text = await response.text();
  expect({ status: response.status, body: text.slice(0, 600) }).toMatchObject({ status: 200 });
  return JSON.parse(text) as T;
}

import type { Problem as ProblemBody } from '../../../worker/api/problems.js';

export type { ProblemBody };

/** An RFC 9457 problem with the given status and code, and the stable type URI for that code. */
export async function expectProblem(response: Response, status: number, code: string): Promise<ProblemBody> {
  const text = await response.text();
  expect({ status: response.status, body: text.slice(0, 400) }).toMatchObject({ status });
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  expect(response.headers.get('server-timing')).toBeNull();
  const body = JSON.parse(text) as ProblemBody;
  expect(body).toMatchObject({ status, code, type: `tag:efficientvit-edge,2026:problem:${code}` });
  expect(body.title).toEqual(expect.any(String));
  expect(body.detail).toEqual(expect.any(String));
  return body;
}

/**
 * The scores the tiny classifier must give a solid-colour image: every pixel preprocesses to (v/255 - mean)/std,
 * the model's average pool returns that value per channel, and the Gemm and softmax follow (float64 here).
 */
export function expectedSolidScores(rgb: readonly [number, number, number], model: TinyModelInfo): number[] {
  const { mean, std } = IMAGENET_PREPROCESSING;
  const channelMeans = rgb.map((v, c) => (v / 255 - mean[c]) / std[c]);
  const logits = Array.from({ length: model.classes }, (_, j) =>
    channelMeans.reduce((sum, m, c) => sum + m * model.weights[c * model.classes + j], model.bias[j]),
  );
  const max = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

/** Indices of the k largest values, largest first. */
export function topIndices(values: readonly number[], k: number): number[] {
  return Array.from(values.keys())
    .sort((a, b) => values[b] - values[a] || a - b)
    .slice(0, k);
}

/**
 * Predictions equal the expected scores' top-k: same classes in the same order, scores within `tolerance` (the
 * model computes in float32: logits of size ~20 carry ~1e-6 relative error, i.e. up to a few 1e-5 in probability).
 */
export function expectPredictions(
  predictions: Prediction[],
  expected: readonly number[],
  k: number,
  tolerance = 1e-4,
): void {
  expect(predictions.map((p) => p.index)).toEqual(topIndices(expected, k));
  for (const prediction of predictions) {
    expect(Math.abs(prediction.score - expected[prediction.index])).toBeLessThanOrEqual(tolerance);
  }
}

export const CRIMSON = SOLID_COLOURS[0];

export function tinyModelOf(target: ConformanceTarget, name: string): TinyModelInfo {
  const model = target.tinyModels.find((m) => m.name === name);
  if (!model) throw new Error(`no tiny model ${name}`);
  return model;
}

/** After a bad request: the same service still serves a good one correctly (tiny model, solid crimson PNG). */
export async function expectStillServing(target: ConformanceTarget, send: Fetch = target.send): Promise<void> {
  const response = await send(
    classifyRequest(await target.file(`generated/${CRIMSON.name}.png`), {
      query: 'model=tiny&top_k=3',
      contentType: 'image/png',
    }),
  );
  const body = await okJson<{ predictions: Prediction[] }>(response);
  expectPredictions(body.predictions, expectedSolidScores(CRIMSON.rgb, tinyModelOf(target, 'tiny')), 3);
}
