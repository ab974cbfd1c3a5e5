/**
 * Configuration parsing, and the worker's entry answering a malformed variable. The limits, the default model, auth
 * and CORS through the running service are test/service/conformance/config.cases.ts, on both runtimes.
 */
import { env } from 'cloudflare:workers';
import { createExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, parseConfig } from '../../worker/service/config.js';
import { createWorkerdHandler, type WorkerEnv } from '../../worker/runtimes/workerd/handler.js';
import { expectProblem } from './conformance/http.js';

describe('parseConfig', () => {
  it('takes the defaults for unset or empty variables', () => {
    expect(parseConfig({})).toEqual(DEFAULT_CONFIG);
    expect(parseConfig({ MAX_BODY_BYTES: '', API_TOKEN: ' ', CORS_ORIGINS: '' })).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG).toEqual({
      maxBodyBytes: 16 * 1024 * 1024,
      maxImagePixels: 16_000_000,
      maxBatch: 8,
      maxDecodeBytes: 40 * 1024 * 1024,
      defaultModel: 'm0',
      fetchTimeoutMs: 5000,
      resultCache: true,
    });
  });

  it('reads every variable', () => {
    expect(
      parseConfig({
        MAX_BODY_BYTES: '1048576',
        MAX_MEGAPIXELS: '2.5',
        MAX_BATCH: '4',
        MAX_DECODE_MIB: '12.5',
        MAX_LOADED_MODELS: '2',
        DEFAULT_MODEL: 'm1',
        API_TOKEN: 'secret-token',
        CORS_ORIGINS: 'https://a.example, https://b.example',
        FETCH_ALLOWED_HOSTS: 'images.example.com, *.cdn.example, 127.0.0.1',
        FETCH_TIMEOUT_MS: '2500',
        RESULT_CACHE: 'off',
      }),
    ).toEqual({
      maxBodyBytes: 1048576,
      maxImagePixels: 2_500_000,
      maxBatch: 4,
      maxDecodeBytes: 12.5 * 1024 * 1024,
      maxLoadedModels: 2,
      defaultModel: 'm1',
      apiToken: 'secret-token',
      corsOrigins: ['https://a.example', 'https://b.example'],
      fetchAllowedHosts: { exact: new Set(['images.example.com', '127.0.0.1']), suffixes: ['.cdn.example'] },
      fetchTimeoutMs: 2500,
      resultCache: false,
    });
  });

  for (const [name, value] of [
    ['MAX_BODY_BYTES', '16MB'],
    ['MAX_BODY_BYTES', '-1'],
    ['MAX_BODY_BYTES', '1.5'],
    ['MAX_MEGAPIXELS', '0'],
    ['MAX_MEGAPIXELS', 'lots'],
    ['MAX_BATCH', '0'],
    ['MAX_BATCH', 'Infinity'],
    ['MAX_DECODE_MIB', '0'],
    ['MAX_DECODE_MIB', '40MB'],
    ['MAX_LOADED_MODELS', '0'],
    ['FETCH_ALLOWED_HOSTS', 'https://images.example.com/'],
    ['FETCH_TIMEOUT_MS', '5s'],
    ['RESULT_CACHE', 'maybe'],
    ['MAX_LOADED_MODELS', '1.5'],
  ] as const) {
    it(`refuses ${name}=${JSON.stringify(value)}`, () => {
      expect(() => parseConfig({ [name]: value })).toThrow(ConfigError);
      expect(() => parseConfig({ [name]: value })).toThrow(name);
    });
  }

  it('the entry answers 500 invalid-config to every request while a variable is malformed', async () => {
    const handler = createWorkerdHandler();
    const badEnv = { ...env, MAX_BATCH: 'eight' } as unknown as WorkerEnv;
    for (const path of ['/healthz', '/v1/models']) {
      const response = await handler.fetch!(
        new Request(`http://edge.test${path}`) as never,
        badEnv,
        createExecutionContext(),
      );
      const problem = await expectProblem(response as unknown as Response, 500, 'invalid-config');
      expect(problem.detail).toMatch(/MAX_BATCH/);
    }
  });
});
