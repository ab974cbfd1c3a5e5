// The bindings only the workerd tests have, beside the worker's own (worker/runtimes/workerd/env.d.ts, generated).
declare namespace Cloudflare {
  interface Env {
    /** test/runtimes/workerd/fixtures-binding.ts */
    FIXTURES: Fetcher;
    /** test/service/origin/origin-lab.ts */
    ORIGIN_LAB: Fetcher;
    /** vitest.config.ts: Miniflare's Rate Limiting binding, 3 requests per 60 s (test/runtimes/workerd/ops.workerd.test.ts) */
    TEST_RATE_LIMITER: RateLimit;
  }
}
