/** `npm run start:node -- [flags]`: flags, environment fallbacks, defaults and usage errors. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_BATCHING } from '../../../worker/service/batching/batcher.js';
import { DEFAULT_CONFIG } from '../../../worker/service/config.js';
import { parseNodeCli, UsageError } from '../../../scripts/lib/node-options.js';

const parse = (argv: string[], env: Record<string, string> = {}) => {
  const result = parseNodeCli(argv, env, '/srv/app');
  if (result.help) throw new Error('unexpected --help');
  return result.options;
};

describe('parseNodeCli', () => {
  it('defaults: port 8080, device auto, threads auto, the largest model built, batching on, ./models/build/node', () => {
    expect(parse([])).toEqual({
      modelsDir: '/srv/app/models/build/node',
      config: { ...DEFAULT_CONFIG },
      port: 8080,
      host: '0.0.0.0',
      device: 'auto',
      threads: 'auto',
      batching: { ...DEFAULT_BATCHING },
      drainTimeoutMs: 30_000,
      decodeThreads: 'auto',
      decodeQueue: 256,
      largestDefault: true,
      quiet: false,
    });
  });

  it('reads every flag', () => {
    const options = parse([
      '--port',
      '9000',
      '--host',
      '127.0.0.1',
      '--device',
      'cuda',
      '--threads',
      '4',
      '--models',
      'built',
      '--batch-window-ms',
      '5',
      '--batch-max',
      '32',
      '--batch-queue',
      '512',
      '--drain-timeout-ms',
      '1000',
    ]);
    expect(options).toMatchObject({
      modelsDir: '/srv/app/built',
      port: 9000,
      host: '127.0.0.1',
      device: 'cuda',
      threads: 4,
      batching: { windowMs: 5, maxBatch: 32, maxQueue: 512 },
      drainTimeoutMs: 1000,
    });
    expect(parse(['--no-batching']).batching).toBe(false);
    expect(parse(['--threads', 'auto']).threads).toBe('auto');
    expect(parse(['--threads', '0']).threads).toBe(0);
  });

  it('falls back to environment variables, flags winning, and reads the service limits as the Worker does', () => {
    const env = {
      PORT: '7000',
      DEVICE: 'cpu',
      THREADS: '2',
      MODELS_DIR: '/models',
      BATCH_MAX: '4',
      DEFAULT_MODEL: 'm0-fp32',
      MAX_BATCH: '3',
      MAX_MEGAPIXELS: '2',
    };
    const options = parse(['--threads', '1'], env);
    expect(options).toMatchObject({
      port: 7000,
      device: 'cpu',
      threads: 1,
      modelsDir: '/models',
      batching: { maxBatch: 4 },
    });
    expect(options.config).toMatchObject({ defaultModel: 'm0-fp32', maxBatch: 3, maxImagePixels: 2_000_000 });
    // A DEFAULT_MODEL given is served (or the start fails); only without one is the largest built chosen.
    expect(options.largestDefault).toBe(false);
    expect(parse(['--quiet']).quiet).toBe(true);
    expect(parse([], { QUIET: '1' }).quiet).toBe(true);
    expect(parse([], { BATCHING: 'off' }).batching).toBe(false);
  });

  it('--help asks for the usage text', () => {
    expect(parseNodeCli(['--help'], {}, '/')).toEqual({ help: true });
  });

  it.each([
    [['--device', 'tpu'], /--device must be one of cpu, cuda, auto/],
    [['--port', '70000'], /--port must be an integer from 0 to 65535/],
    [['--port', 'http'], /--port must be an integer/],
    [['--threads=-1'], /--threads must be an integer/],
    [['--threads', '2.5'], /--threads must be an integer/],
    [['--batch-max', '0'], /--batch-max must be an integer from 1/],
    [['--batch-window-ms', 'soon'], /--batch-window-ms must be a number of milliseconds/],
    [['--unknown'], /Unknown option '--unknown'/],
    [['positional'], /positional/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseNodeCli(argv, {}, '/')).toThrow(UsageError);
    expect(() => parseNodeCli(argv, {}, '/')).toThrow(message);
  });

  it('refuses malformed environment values instead of ignoring them', () => {
    expect(() => parseNodeCli([], { MAX_BODY_BYTES: '16MB' }, '/')).toThrow(
      /MAX_BODY_BYTES must be a positive integer/,
    );
    expect(() => parseNodeCli([], { BATCHING: 'maybe' }, '/')).toThrow(/BATCHING must be on or off/);
    expect(() => parseNodeCli([], { THREADS: 'many' }, '/')).toThrow(/--threads must be an integer/);
    // Empty means unset, as for the service limits.
    expect(parse([], { DEVICE: '', PORT: ' ' })).toMatchObject({ device: 'auto', port: 8080 });
  });
});

describe('decode pool flags', () => {
  it('--decode-threads N|auto and --decode-queue N, or DECODE_THREADS / DECODE_QUEUE; 0 threads decodes on the HTTP thread', () => {
    expect(parse(['--decode-threads', '3', '--decode-queue', '64'])).toMatchObject({
      decodeThreads: 3,
      decodeQueue: 64,
    });
    expect(parse(['--decode-threads', '0']).decodeThreads).toBe(0);
    expect(parse(['--decode-threads', 'auto']).decodeThreads).toBe('auto');
    expect(parse([], { DECODE_THREADS: '2', DECODE_QUEUE: '8' })).toMatchObject({ decodeThreads: 2, decodeQueue: 8 });
    expect(parse(['--decode-threads', '1'], { DECODE_THREADS: '2' }).decodeThreads).toBe(1);
  });

  it.each([
    [['--decode-threads=-1'], /--decode-threads must be an integer from 0/],
    [['--decode-threads', 'many'], /--decode-threads must be an integer/],
    [['--decode-queue', '0'], /--decode-queue must be an integer from 1/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseNodeCli(argv, {}, '/')).toThrow(UsageError);
    expect(() => parseNodeCli(argv, {}, '/')).toThrow(message);
  });
});
