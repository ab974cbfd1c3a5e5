/** GET /openapi.json: the API's OpenAPI 3.1 document (worker/service/openapi/document.ts), never behind auth. */
import type { Hono } from 'hono';
import { openApiDocument } from '../openapi/document.js';
import type { RouteOperation } from '../openapi/types.js';

export const openApiOperation: RouteOperation = {
  method: 'get',
  path: '/openapi.json',
  auth: false,
  problems: [],
  operation: {
    operationId: 'openapi',
    summary: 'This document',
    responses: {
      '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } },
    },
  },
};

export function registerOpenApiRoute(app: Hono): void {
  // Built once per isolate/process: it depends on nothing but the code.
  let body: string | undefined;
  app.get('/openapi.json', (c) => {
    body ??= JSON.stringify(openApiDocument());
    return c.body(body, 200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
  });
}
