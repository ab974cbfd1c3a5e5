/** GET /openapi.json: the API's OpenAPI 3.1 document (worker/service/openapi/document.ts), never behind auth. */
import type { Hono } from 'hono';
import { openApiDocument } from '../../api/openapi.js';

export function registerOpenApiRoute(app: Hono): void {
  // Built once per isolate/process: it depends on nothing but the code.
  let body: string | undefined;
  app.get('/openapi.json', (c) => {
    body ??= JSON.stringify(openApiDocument());
    return c.body(body, 200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
  });
}
