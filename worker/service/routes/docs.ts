/**
 * GET /docs: an interactive reference (Swagger UI, from the swagger-ui-dist package's files) for GET /openapi.json.
 * Built by `npm run build:page` into `page/docs/` beside the demo page (scripts/lib/docs-page.ts), read through ModelFiles
 * like it: nothing is added to the Worker's script and nothing is fetched from a CDN.
 */
import type { Hono } from 'hono';
import { ApiError } from '../problems.js';
import type { Services } from '../services.js';

export const DOCS_DIR = 'page/docs';

/** The files /docs/<name> serves, and their types; everything else under it is 404. */
export const DOCS_FILES: Readonly<Record<string, string>> = Object.freeze({
  'index.html': 'text/html; charset=utf-8',
  'init.js': 'text/javascript; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
});

export function registerDocsRoute(app: Hono, { files }: Services): void {
  const serve = async (name: string) => {
    const type = Object.hasOwn(DOCS_FILES, name) ? DOCS_FILES[name] : undefined;
    const bytes = type ? await files.read(`${DOCS_DIR}/${name}`) : undefined;
    if (!type) throw new ApiError('not-found', `no such file: /docs/${name}`);
    if (!bytes)
      throw new ApiError(
        'not-found',
        `the API reference is not built (no ${DOCS_DIR}/${name}): run npm run build:page`,
      );
    return new Response(bytes, {
      headers: { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' },
    });
  };
  app.get('/docs', () => serve('index.html'));
  app.get('/docs/:file', (c) => serve(c.req.param('file')));
}
