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

/**
 * GET /readyz, Node build only (worker/runtimes/node/readiness.ts answers it before the app: the edge has no start-up warm-up
 * and answers 404 there). Described here so one document covers both builds.
 */
export const readyzOperation: RouteOperation = {
  method: 'get',
  path: '/readyz',
  auth: false,
  problems: ['not-ready'],
  operation: {
    operationId: 'ready',
    summary: 'Readiness (Node build only): 200 once the default model has classified its warm-up image',
    responses: {
      '200': {
        description: 'ready to serve the default model',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['status', 'model'],
              additionalProperties: false,
              properties: { status: { const: 'ready' }, model: { type: 'string' } },
            },
          },
        },
      },
    },
  },
};
