// Bindings the workerd tests see: the worker's own (wrangler.toml) plus the Node-side FIXTURES service.
declare namespace Cloudflare {
  interface Env {
    MODELS: Fetcher;
    FIXTURES: Fetcher;
    /** test/workerd/origin-lab.ts */
    ORIGIN_LAB: Fetcher;
    DEFAULT_MODEL: string;
    MAX_BODY_BYTES: string;
    MAX_MEGAPIXELS: string;
    MAX_BATCH: string;
  }
}
