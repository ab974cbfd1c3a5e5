/**
 * GET /: the demo page (worker/page/, built by `npm run build:page` into `page/index.html` beside the models, so
 * workerd reads it from the Static Assets binding and Node from the build folder, like the manifest). One
 * self-contained file: its script and styles are inlined, so nothing else is routed and it works offline.
 */
import type { Hono } from 'hono';
import { ApiError } from '../problems.js';
import type { Services } from '../services.js';

export const PAGE_FILE = 'page/index.html';

export function registerPageRoute(app: Hono, { files }: Services): void {
  app.get('/', async (c) => {
    const page = await files.read(PAGE_FILE);
    if (!page) {
      throw new ApiError('not-found', `the demo page is not built (no ${PAGE_FILE}): run npm run build:page`);
    }
    return c.html(new TextDecoder().decode(page), 200, {
      // Small and rebuilt with the models: always revalidate rather than serve a stale page.
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
  });
}
