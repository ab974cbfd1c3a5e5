import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { serveFixture } from './test/runtimes/workerd/fixtures-binding.js';
import { serveOriginLab } from './test/service/origin/origin-lab.js';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          // Tests sit beside the subject they check (test/ mirrors the source folders); a name ending in
          // .workerd.test.ts runs inside workerd, every other test in Node.
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.workerd.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        // The production wrangler.toml (assets binding, flags), with the test models (written by the global
        // setup, never into models/), small limits and the FIXTURES binding (test/runtimes/workerd/fixtures-binding.ts)
        // swapped in. A function, so it runs after globalSetup.
        plugins: [
          cloudflareTest(() => ({
            wrangler: { configPath: './wrangler.toml' },
            // The handler without the start-up session: the deployed entry (cloudflare.ts) bundles the default
            // model, which slows the test bundle; test/runtimes/workerd/startup-entry.test.ts runs that entry in workerd.
            main: './worker/runtimes/workerd/handler.ts',
            miniflare: {
              assets: { directory: fileURLToPath(new URL('.cache/test-models', import.meta.url)), binding: 'MODELS' },
              bindings: {
                DEFAULT_MODEL: 'tiny',
                MAX_BODY_BYTES: String(4 * 1024 * 1024),
                MAX_MEGAPIXELS: '4',
                MAX_BATCH: '8',
                FETCH_ALLOWED_HOSTS: '127.0.0.1',
                FETCH_TIMEOUT_MS: '1000',
                // Thousands of requests: their log lines would bury the test output (test/runtimes/workerd/ops.workerd.test.ts turns it on).
                REQUEST_LOG: 'off',
              },
              // A real Rate Limiting binding under another name, so that only the rate-limit test uses it.
              ratelimits: { TEST_RATE_LIMITER: { simple: { limit: 3, period: 60 } } },
              serviceBindings: { FIXTURES: serveFixture, ORIGIN_LAB: serveOriginLab },
            },
          })),
        ],
        test: {
          name: 'workerd',
          include: ['test/**/*.workerd.test.ts'],
          globalSetup: ['test/runtimes/workerd/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
