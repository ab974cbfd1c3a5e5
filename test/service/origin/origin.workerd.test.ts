/**
 * The edge as the one front door: models it does not serve go to a GPU origin. Inside workerd, against a real Node
 * build process (test/service/origin/origin-lab.ts: `npm run start:node`'s entry serving a synthetic M2, its API_TOKEN set)
 * and a real misbehaving local server for every fault; the edge is the production app with GPU_ORIGIN pointed at them.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../worker/service/app.js';
import { createWorkerdHandler, workerdDeps } from '../../../worker/runtimes/workerd/handler.js';
import { parseOriginConfig } from '../../../worker/service/origin/config.js';
import {
  CRIMSON,
  classifyRequest,
  expectedSolidScores,
  expectPredictions,
  expectProblem,
  type Fetch,
  multipart,
  okJson,
  type Prediction,
} from '../conformance/http.js';
import { fixture, tinyModel } from '../../runtimes/workerd/helpers.js';

interface Lab {
  origin: string;
  token: string;
  faulty: string;
  refusing: string;
}

let lab: Lab;
let photo: Uint8Array;
let jpegs: Uint8Array[];
let crimson: Uint8Array;
const M2 = 'm2-fp32';

beforeAll(async () => {
  // Miniflare's loopback can drop an idle connection (see helpers.ts): retry that one error.
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await env.ORIGIN_LAB.fetch('http://lab/start');
      if (!response.ok) throw new Error(`origin lab: ${await response.text()}`);
      lab = await response.json();
      break;
    } catch (error) {
      if (attempt >= 3 || !/network connection lost/i.test(String(error))) throw error;
    }
  }
  photo = await fixture('shared/images/photos/phone-4032x3024-exif6.jpg');
  jpegs = await Promise.all(
    ['n01440764_tench.JPEG', 'n01560419_bulbul.JPEG', 'n01644900_tailed_frog.JPEG'].map((name) =>
      fixture(`shared/images/imagenet-sample/${name}`),
    ),
  );
  crimson = await fixture(`generated/${CRIMSON.name}.png`);
});

/** The production edge app (the test's bindings: tiny models, 4 MiB bodies, batches of 8) with these origin vars. */
function edge(vars: Record<string, string>): Fetch {
  const app = createApp(workerdDeps({ ...env, ...vars }));
  return async (request) => app.fetch(request);
}
const toOrigin = (timeout = '10000') =>
  edge({ GPU_ORIGIN: lab.origin, ORIGIN_TOKEN: lab.token, ORIGIN_TIMEOUT_MS: timeout });
const toFault = (fault: string, vars: Record<string, string> = {}) =>
  edge({ GPU_ORIGIN: `${lab.faulty}/${fault}`, ORIGIN_TOKEN: lab.token, ORIGIN_TIMEOUT_MS: '400', ...vars });

/** The same request sent to the Node build directly. */
function direct(query: string, body: BodyInit, contentType: string): Promise<Response> {
  return fetch(`${lab.origin}/v1/classify?${query}`, {
    method: 'POST',
    body,
    headers: { 'content-type': contentType, authorization: `Bearer ${lab.token}` },
  });
}

interface ClassifyBody {
  model: string;
  predictions: Prediction[];
  timing: Record<string, number>;
  fallback?: Record<string, string>;
}
interface BatchBody {
  model: string;
  results: { filename?: string; predictions?: Prediction[]; error?: { code: string } }[];
  timing: Record<string, number>;
  fallback?: Record<string, string>;
}

describe('origin models through the edge', () => {
  it('GET /v1/models lists the edge models and the origin models, marked with where they run', async () => {
    const body = await okJson<{
      default: string;
      models: { name: string; runs: string; available: boolean; loaded: boolean; variant: string }[];
      origin: { available: boolean; backend: string };
    }>(await toOrigin()(new Request('http://edge.test/v1/models')));
    expect(body.origin).toMatchObject({ available: true, backend: 'onnxruntime-node/cpu' });
    expect(body.models.find((model) => model.name === 'tiny')).toMatchObject({ runs: 'edge', available: true });
    // The origin's own fields, unchanged: its /readyz warm-up has loaded it.
    expect(body.models.find((model) => model.name === M2)).toMatchObject({
      runs: 'origin',
      available: true,
      variant: 'm2',
      loaded: true,
      default: false,
    });
  });

  it('a raw 12 MP photo streamed through the edge gets the same answer as from the origin directly', async () => {
    const through = await toOrigin()(
      classifyRequest(photo, { query: `model=${M2}&top_k=10`, contentType: 'image/jpeg' }),
    );
    const viaEdge = await okJson<ClassifyBody>(through);
    const fromOrigin = await okJson<ClassifyBody>(await direct(`model=${M2}&top_k=10`, photo, 'image/jpeg'));
    expect(viaEdge.model).toBe('efficientvit_m2.fp32');
    expect(viaEdge.predictions).toEqual(fromOrigin.predictions);
    expect(viaEdge.predictions).toHaveLength(10);
    // The origin's stages, its own total and the hop, and the edge's total over all of it.
    expect(viaEdge.timing).toMatchObject({
      decode_ms: expect.any(Number),
      preprocess_ms: expect.any(Number),
      inference_ms: expect.any(Number),
      origin_ms: expect.any(Number),
      hop_ms: expect.any(Number),
      total_ms: expect.any(Number),
    });
    expect(viaEdge.timing.total_ms).toBeGreaterThanOrEqual(viaEdge.timing.hop_ms);
    const serverTiming = through.headers.get('server-timing') ?? '';
    for (const name of ['decode', 'preprocess', 'inference', 'origin', 'hop', 'total']) {
      expect(serverTiming).toMatch(new RegExp(`(^|, ?)${name};dur=`));
    }
  });

  it('a multipart batch is forwarded whole: results in order, as the origin answers it', async () => {
    const form = () => multipart(jpegs.map((bytes, index) => ({ bytes, filename: `image-${index}.jpg` })));
    const viaEdge = await okJson<BatchBody>(
      await toOrigin()(classifyRequest(form(), { query: `model=${M2}`, contentType: null })),
    );
    const fromOrigin = await okJson<BatchBody>(
      await fetch(`${lab.origin}/v1/classify?model=${M2}`, {
        method: 'POST',
        body: form(),
        headers: { authorization: `Bearer ${lab.token}` },
      }),
    );
    expect(viaEdge.results.map((result) => result.filename)).toEqual(['image-0.jpg', 'image-1.jpg', 'image-2.jpg']);
    expect(viaEdge.results.map((result) => result.predictions)).toEqual(fromOrigin.results.map((r) => r.predictions));
    // Different images, different answers: the parity is not of three copies of one result.
    expect(new Set(viaEdge.results.map((result) => result.predictions?.[0].index)).size).toBeGreaterThan(1);
  });

  it("the origin's 4xx problems pass through: an unknown model, a corrupt image", async () => {
    const problem = await expectProblem(
      await toOrigin()(classifyRequest(jpegs[0], { query: 'model=m9-fp32', contentType: 'image/jpeg' })),
      404,
      'unknown-model',
    );
    // The origin's detail: it lists the origin's models.
    expect(problem.detail).toMatch(/m2-fp32/);
    await expectProblem(
      await toOrigin()(classifyRequest(jpegs[0].subarray(0, 600), { query: `model=${M2}`, contentType: 'image/jpeg' })),
      422,
      'corrupt-image',
    );
  });

  it("the edge's models stay at the edge", async () => {
    const body = await okJson<ClassifyBody>(
      await toOrigin()(classifyRequest(crimson, { query: 'model=tiny&top_k=3', contentType: 'image/png' })),
    );
    expectPredictions(body.predictions, expectedSolidScores(CRIMSON.rgb, tinyModel('tiny')), 3);
    expect(body.timing.hop_ms).toBeUndefined();
  });
});

describe('edge limits are enforced before anything is sent to the origin', () => {
  // The refusing origin would answer 502: a 4xx here is the edge's own.
  const refusing = () => edge({ GPU_ORIGIN: lab.refusing });

  it('too many images: 413 batch-too-large (the origin would take 16)', async () => {
    const form = multipart(Array.from({ length: 9 }, () => ({ bytes: jpegs[0] })));
    const problem = await expectProblem(
      await refusing()(classifyRequest(form, { query: `model=${M2}`, contentType: null })),
      413,
      'batch-too-large',
    );
    expect(problem).toMatchObject({ limit: 8, count: 9 });
  });

  it('a body over MAX_BODY_BYTES: 413 body-too-large (the origin would take 32 MiB)', async () => {
    await expectProblem(
      await refusing()(classifyRequest(new Uint8Array(5 * 1024 * 1024), { query: `model=${M2}` })),
      413,
      'body-too-large',
    );
  });

  it('bad parameters and content types: 400 / 415', async () => {
    await expectProblem(
      await refusing()(classifyRequest(jpegs[0], { query: `model=${M2}&top_k=0` })),
      400,
      'bad-parameter',
    );
    await expectProblem(
      await refusing()(classifyRequest(jpegs[0], { query: `model=${M2}`, contentType: 'text/plain' })),
      415,
      'unsupported-content-type',
    );
    const problem = await expectProblem(
      await refusing()(classifyRequest(jpegs[0], { query: `model=${M2}&fallback=m9` })),
      400,
      'bad-parameter',
    );
    expect(problem.parameter).toBe('fallback');
  });
});

describe('origin faults are answered, never a 500 or a hang', () => {
  const send = (fetcher: Fetch, query = `model=${M2}`) =>
    fetcher(classifyRequest(jpegs[0], { query, contentType: 'image/jpeg' }));

  it('a port nothing listens on: 502 origin-unavailable', async () => {
    await expectProblem(await send(edge({ GPU_ORIGIN: lab.refusing })), 502, 'origin-unavailable');
  });

  it('a server that never answers: 504 origin-timeout after ORIGIN_TIMEOUT_MS', async () => {
    const problem = await expectProblem(await send(toFault('stall')), 504, 'origin-timeout');
    expect(problem.timeoutMs).toBe(400);
  });

  it('garbage, a 200 that is not a classify answer, a 500, a redirect, a non-API 404: 502 origin-error', async () => {
    for (const fault of ['garbage', 'wrong-shape', 'fail', 'redirect', 'not-api']) {
      const problem = await expectProblem(await send(toFault(fault)), 502, 'origin-error');
      expect(problem.detail, fault).toMatch(/GPU origin/);
    }
    const failed = await expectProblem(await send(toFault('fail')), 502, 'origin-error');
    expect(failed.originStatus).toBe(500);
  });

  it('a wrong ORIGIN_TOKEN (the Node build answers 401): 502 origin-error, not the 401', async () => {
    const problem = await expectProblem(
      await send(edge({ GPU_ORIGIN: lab.origin, ORIGIN_TOKEN: 'wrong' })),
      502,
      'origin-error',
    );
    expect(problem.detail).toMatch(/ORIGIN_TOKEN/);
  });

  it("503 with Retry-After: the origin's problem and its Retry-After are passed on", async () => {
    const busy = await send(toFault('busy'));
    expect(busy.headers.get('retry-after')).toBe('7');
    await expectProblem(busy, 503, 'overloaded');
    // A 503 that is not this API's (a proxy with no backend): still 503 overloaded, its Retry-After kept.
    const proxy = await send(toFault('busy-proxy'));
    expect(proxy.headers.get('retry-after')).toBe('11');
    await expectProblem(proxy, 503, 'overloaded');
  });

  it('an unreachable origin does not break GET /v1/models: the edge models, and the reason', async () => {
    const body = await okJson<{
      models: { name: string; runs: string }[];
      origin: { available: boolean; reason: string };
    }>(await edge({ GPU_ORIGIN: lab.refusing })(new Request('http://edge.test/v1/models')));
    expect(body.origin.available).toBe(false);
    expect(body.origin.reason).toMatch(/^origin-unavailable: /);
    expect(body.models.map((model) => model.runs)).toEqual(body.models.map(() => 'edge'));
    expect(body.models.map((model) => model.name)).toContain('tiny');
    const stalled = await okJson<{ origin: { available: boolean; reason: string } }>(
      await toFault('stall')(new Request('http://edge.test/v1/models')),
    );
    expect(stalled.origin.reason).toMatch(/^origin-timeout: /);
  });
});

describe('fallback=<edge model> answers origin faults at the edge, saying so', () => {
  it('refused, timed out, busy: the tiny model answers, with a Fallback header and field', async () => {
    for (const [fetcher, reason] of [
      [edge({ GPU_ORIGIN: lab.refusing }), 'origin-unavailable'],
      [toFault('stall'), 'origin-timeout'],
      [toFault('busy'), 'overloaded'],
    ] as const) {
      const response = await fetcher(
        classifyRequest(crimson, { query: `model=${M2}&top_k=3&fallback=tiny`, contentType: 'image/png' }),
      );
      const body = await okJson<ClassifyBody>(response);
      expect(response.headers.get('fallback')).toBe(`tiny; requested=${M2}; reason=${reason}`);
      expect(body.fallback).toMatchObject({ model: 'tiny', requested: M2, reason });
      expectPredictions(body.predictions, expectedSolidScores(CRIMSON.rgb, tinyModel('tiny')), 3);
    }
  });

  it('ORIGIN_FALLBACK is the default for requests that do not say, a batch included; fallback=none opts out', async () => {
    const fetcher = edge({ GPU_ORIGIN: lab.refusing, ORIGIN_FALLBACK: 'tiny' });
    const form = multipart([{ bytes: crimson }, { bytes: crimson }]);
    const body = await okJson<BatchBody>(
      await fetcher(classifyRequest(form, { query: `model=${M2}`, contentType: null })),
    );
    expect(body.fallback).toMatchObject({ model: 'tiny', reason: 'origin-unavailable' });
    expect(body.results).toHaveLength(2);
    await expectProblem(
      await fetcher(classifyRequest(crimson, { query: `model=${M2}&fallback=none`, contentType: 'image/png' })),
      502,
      'origin-unavailable',
    );
  });

  it("a working origin answers itself; the origin's 4xx is not a fault to fall back from", async () => {
    const body = await okJson<ClassifyBody>(
      await toOrigin()(classifyRequest(jpegs[0], { query: `model=${M2}&fallback=tiny`, contentType: 'image/jpeg' })),
    );
    expect(body.model).toBe('efficientvit_m2.fp32');
    expect(body.fallback).toBeUndefined();
    await expectProblem(
      await toOrigin()(classifyRequest(jpegs[0].subarray(0, 600), { query: `model=${M2}&fallback=tiny` })),
      422,
      'corrupt-image',
    );
  });
});

describe('GPU_ORIGIN configuration', () => {
  it('parses the URL, token, timeout and fallback; unset means no origin', () => {
    expect(parseOriginConfig({})).toBeUndefined();
    expect(
      parseOriginConfig({ GPU_ORIGIN: 'http://10.0.0.2:8080/', ORIGIN_TOKEN: ' s3cret ', ORIGIN_FALLBACK: 'm0' }),
    ).toEqual({ url: 'http://10.0.0.2:8080', token: 's3cret', timeoutMs: 10_000, fallback: 'm0' });
  });

  it('a malformed value is refused, and the real entry answers 500 invalid-config', async () => {
    const handler = createWorkerdHandler();
    const response = await handler.fetch?.(
      new Request('http://edge.test/v1/models') as never,
      { ...env, GPU_ORIGIN: 'http://x', ORIGIN_TIMEOUT_MS: '-1' },
      {} as ExecutionContext,
    );
    await expectProblem(response as Response, 500, 'invalid-config');
    expect(() => parseOriginConfig({ GPU_ORIGIN: 'not a url' })).toThrow(/GPU_ORIGIN must be an http\(s\) URL/);
    expect(() => parseOriginConfig({ GPU_ORIGIN: 'ftp://x' })).toThrow(/GPU_ORIGIN/);
    expect(() => parseOriginConfig({ GPU_ORIGIN: 'http://x', ORIGIN_TIMEOUT_MS: 'soon' })).toThrow(/ORIGIN_TIMEOUT_MS/);
  });
});
