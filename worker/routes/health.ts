/** GET /healthz: liveness; loads nothing, never needs auth. */
import type { Hono } from 'hono';
import type { RouteOperation } from '../openapi/types.js';

export const healthOperation: RouteOperation = {
  method: 'get',
  path: '/healthz',
  auth: false,
  problems: [],
  operation: {
    operationId: 'health',
    summary: 'Liveness',
    responses: {
      '200': {
        description: 'the service is up',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['status'],
              additionalProperties: false,
              properties: { status: { const: 'ok' } },
            },
          },
        },
      },
    },
  },
};

export function registerHealthRoute(app: Hono): void {
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
}
