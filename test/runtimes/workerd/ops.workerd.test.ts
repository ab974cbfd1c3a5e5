/**
 * The edge's operations wiring (worker/runtimes/workerd/ops.ts) in workerd: the production handler with the test's
 * real bindings and vars, some overridden per test. The request log line's fields (and that no token or image bytes
 * reach it), the metrics data point (Miniflare's Analytics Engine binding stores nothing locally, so it is read
 * through the METRICS_LOG line), the rate limit from Cloudflare's Rate Limiting binding (Miniflare's) and from the
 * in-memory fallback, and that none of it is on without its binding or var.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWorkerdHandler, type WorkerEnv } from '../../../worker/runtimes/workerd/handler.js';
import { METRIC_BLOBS, METRIC_DOUBLES } from '../../../worker/service/http/metrics.js';
import type { RequestRecord } from '../../../worker/service/http/request-log.js';
import { classifyRequest, expectProblem, okJson } from '../../service/conformance/http.js';
import { fixture } from './helpers.js';

type Vars = Partial<Record<'REQUEST_LOG' | 'METRICS_LOG' | 'RATE_LIMIT' | 'API_TOKEN', string>> & {
  RATE_LIMITER?: RateLimit;
};

/** A fresh production handler (its own isolate state: app, rate-limit windows) over env with `vars` replaced. */
function handlerWith(vars: Vars): (request: Request) => Promise<Response> {
  const handler = createWorkerdHandler();
  const overridden = { ...env, ...vars } as unknown as WorkerEnv;
  return async (request) => {
    const ctx = createExecutionContext();
    const response = await handler.fetch!(request as Request<unknown, IncomingRequestCfProperties>, overridden, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
}

let lines: string[] = [];
beforeEach(() => {
  lines = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(' ')));
});
afterEach(() => {
  vi.restoreAllMocks();
});

const records = () =>
  lines.map((line) => JSON.parse(line) as RequestRecord & { metrics?: unknown }).filter((r) => r.metrics === undefined);
const points = () =>
  lines
    .map((line) => JSON.parse(line) as { metrics?: { indexes: string[]; blobs: string[]; doubles: number[] } })
    .flatMap((r) => (r.metrics ? [r.metrics] : []));

const TOKEN = 'ops-secret-token-5b1f';

describe('request log', () => {
  it('one JSON line per request with the fields of the Node build, and neither the token nor the image', async () => {
    const png = await fixture('generated/crimson.png');
    const send = handlerWith({ REQUEST_LOG: 'on', API_TOKEN: TOKEN });
    const request = classifyRequest(png, {
      query: 'model=tiny&top_k=2',
      contentType: 'image/png',
      headers: {
        authorization: `Bearer ${TOKEN}`,
        'cf-ray': '8f00aa11bb22cc33-LHR',
        'content-length': String(png.length),
      },
    });
    const body = await okJson<{ model: string }>(await send(request));
    expect(body.model).toBe('tiny_classifier.fp32');
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(TOKEN);
    expect(lines[0]).not.toContain('top_k');
    expect(lines[0].length).toBeLessThan(1000); // no room for image bytes
    const [record] = records();
    expect(Object.keys(record).sort()).toEqual(
      [
        ...['time', 'id', 'method', 'path', 'route', 'model', 'status', 'problem', 'ms', 'batch', 'stages', 'cache'],
        ...['bytes_in', 'bytes_out', 'ran', 'colo'],
      ].sort(),
    );
    expect(record).toMatchObject({
      id: '8f00aa11bb22cc33-LHR',
      method: 'POST',
      path: '/v1/classify',
      route: '/v1/classify',
      model: 'tiny',
      status: 200,
      problem: null,
      batch: 1,
      cache: 'miss',
      bytes_in: png.length,
      ran: 'here',
      colo: null,
    });
    expect(record.stages.inference_ms).toBeGreaterThanOrEqual(0);
    expect(record.stages.decode_ms).toBeGreaterThanOrEqual(0);
    expect(record.stages.total_ms).toBeGreaterThanOrEqual(record.stages.inference_ms);
    expect(new Date(record.time).toISOString()).toBe(record.time);
  });

  it('an error answer: its problem code, and a generated id without cf-ray', async () => {
    const send = handlerWith({ REQUEST_LOG: 'on' });
    await expectProblem(
      await send(classifyRequest(new Uint8Array(10), { query: 'model=no-such-model' })),
      404,
      'unknown-model',
    );
    await expectProblem(await send(new Request('http://edge.test/v2/nothing')), 404, 'not-found');
    const [unknown, notFound] = records();
    expect(unknown).toMatchObject({ status: 404, problem: 'unknown-model', route: '/v1/classify', cache: null });
    expect(unknown.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(notFound).toMatchObject({ status: 404, problem: 'not-found', route: null, model: null, batch: null });
    expect(notFound.id).not.toBe(unknown.id);
  });

  it('REQUEST_LOG=off: no line', async () => {
    await handlerWith({ REQUEST_LOG: 'off' })(new Request('http://edge.test/healthz'));
    expect(lines).toEqual([]);
  });
});

describe('metrics', () => {
  it('one data point per request, in the documented positions (seen through METRICS_LOG)', async () => {
    const png = await fixture('generated/crimson.png');
    const send = handlerWith({ REQUEST_LOG: 'off', METRICS_LOG: 'on' });
    await okJson(await send(classifyRequest(png, { query: 'model=tiny', contentType: 'image/png' })));
    await expectProblem(await send(classifyRequest(png, { query: 'top_k=0' })), 400, 'bad-parameter');
    const [ok, bad] = points();
    expect(points()).toHaveLength(2);
    const blob = (point: typeof ok, name: (typeof METRIC_BLOBS)[number]) => point.blobs[METRIC_BLOBS.indexOf(name)];
    const double = (point: typeof ok, name: (typeof METRIC_DOUBLES)[number]) =>
      point.doubles[METRIC_DOUBLES.indexOf(name)];
    expect(ok.indexes).toEqual(['tiny']);
    expect(ok.blobs).toHaveLength(METRIC_BLOBS.length);
    expect(ok.doubles).toHaveLength(METRIC_DOUBLES.length);
    expect([blob(ok, 'route'), blob(ok, 'model'), blob(ok, 'problem'), blob(ok, 'cache'), blob(ok, 'ran')]).toEqual([
      '/v1/classify',
      'tiny',
      '',
      'miss',
      'here',
    ]);
    expect(double(ok, 'status')).toBe(200);
    expect(double(ok, 'inference_ms')).toBeGreaterThanOrEqual(0);
    expect(double(ok, 'ms')).toBeGreaterThan(0);
    expect(double(ok, 'batch')).toBe(1);
    expect(blob(bad, 'problem')).toBe('bad-parameter');
    expect(double(bad, 'status')).toBe(400);
  });
});

describe('rate limit', () => {
  const from = (client: { token?: string; ip?: string }) =>
    new Request('http://edge.test/v1/models', {
      headers: {
        ...(client.token ? { authorization: `Bearer ${client.token}` } : {}),
        ...(client.ip ? { 'cf-connecting-ip': client.ip } : {}),
      },
    });

  it('off without RATE_LIMITER or RATE_LIMIT: every request is served', async () => {
    const send = handlerWith({});
    for (let i = 0; i < 8; i++) expect((await send(from({ ip: '192.0.2.1' }))).status).toBe(200);
  });

  it.each([
    ['the in-memory fixed window (RATE_LIMIT=3/60s)', { RATE_LIMIT: '3/60s' }],
    ["Cloudflare's Rate Limiting binding (Miniflare's, 3 per 60 s)", { RATE_LIMITER: env.TEST_RATE_LIMITER }],
  ] as const)(
    '%s: the 4th request is 429 rate-limited with Retry-After; other clients have their own bucket',
    async (name, vars) => {
      const send = handlerWith({ REQUEST_LOG: 'off', ...vars });
      // The binding's buckets outlive a handler: names unique to this case.
      const client = { ip: `198.51.100.${name.length}` };
      for (let i = 0; i < 3; i++) expect((await send(from(client))).status).toBe(200);
      const refused = await send(from(client));
      await expectProblem(refused, 429, 'rate-limited');
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      // Another IP, and a token (keyed by its digest, not the IP it comes from), are counted apart.
      expect((await send(from({ ip: `203.0.113.${name.length}` }))).status).toBe(200);
      expect((await send(from({ ...client, token: `token-${name.length}` }))).status).toBe(200);
      // Outside /v1/*: never limited.
      expect(
        (await send(new Request('http://edge.test/healthz', { headers: { 'cf-connecting-ip': client.ip } }))).status,
      ).toBe(200);
    },
  );

  it('a malformed RATE_LIMIT is 500 invalid-config, as any malformed var', async () => {
    await expectProblem(await handlerWith({ RATE_LIMIT: 'lots' })(from({})), 500, 'invalid-config');
  });
});
