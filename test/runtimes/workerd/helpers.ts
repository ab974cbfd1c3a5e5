/**
 * The workerd side of the HTTP tests: the worker through SELF, fixture files through the FIXTURES binding, the
 * setup's tiny models through inject. The runtime-neutral request builders and checks are test/service/conformance/http.ts.
 */
import { SELF } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { inject } from 'vitest';
import {
  CRIMSON,
  classifyRequest,
  expectedSolidScores,
  expectPredictions,
  type Fetch,
  okJson,
  type Prediction,
} from '../../service/conformance/http.js';
import type { TinyModelInfo } from '../../service/conformance/test-data.js';

/** The worker itself, through its real entry (worker/runtimes/workerd/handler.ts) and the test's wrangler bindings. */
export const worker: Fetch = (request) => SELF.fetch(request);

/**
 * Miniflare's loopback server (which serves Node-side bindings such as FIXTURES) keeps Node's 5 s keep-alive timeout,
 * so a request on a connection idle for ~5 s can fail with "Network connection lost" (cloudflare/workers-sdk#14848).
 * Reading a fixture is idempotent: retry that one error.
 */
async function fetchFixture(url: string): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await env.FIXTURES.fetch(url);
    } catch (error) {
      if (attempt >= 3 || !/network connection lost/i.test(String(error))) throw error;
    }
  }
}

/** A file from ../shared (`shared/...`), test/fixtures (`fixtures/...`) or the setup's images (`generated/...`). */
export async function fixture(pathName: string): Promise<Uint8Array> {
  const response = await fetchFixture(`http://fixtures/${pathName}`);
  if (!response.ok) throw new Error(`fixture ${pathName}: ${response.status} ${await response.text()}`);
  return new Uint8Array(await response.arrayBuffer());
}

export function tinyModel(name: string): TinyModelInfo {
  const model = inject('tinyModels').find((m) => m.name === name);
  if (!model) throw new Error(`no tiny model ${name}`);
  return model;
}

/**
 * After a bad request: the same isolate still serves a good one correctly (tiny model, solid crimson PNG).
 */
export async function expectStillServing(fetch: Fetch = worker): Promise<void> {
  const response = await fetch(
    classifyRequest(await fixture(`generated/${CRIMSON.name}.png`), {
      query: 'model=tiny&top_k=3',
      contentType: 'image/png',
    }),
  );
  const body = await okJson<{ predictions: Prediction[] }>(response);
  expectPredictions(body.predictions, expectedSolidScores(CRIMSON.rgb, tinyModel('tiny')), 3);
}
