/** The routes around the API: liveness, readiness, the demo page, the reference, this document. */
import * as v from 'valibot';
import type { RouteOperation } from './operation.js';

export const Health = v.strictObject({ status: v.literal('ok') });
export const Ready = v.strictObject({ status: v.literal('ready'), model: v.string() });

const html = (description: string) => ({
  '200': { description, content: { 'text/html': { schema: { type: 'string' } } } },
});

export const healthOperation: RouteOperation = {
  method: 'get',
  path: '/healthz',
  auth: false,
  problems: [],
  answer: Health,
  operation: { operationId: 'health', summary: 'Liveness', responses: { '200': { description: 'the service is up' } } },
};

/** Node build only (the edge has no start-up warm-up and answers 404); described so one document covers both. */
export const readyzOperation: RouteOperation = {
  method: 'get',
  path: '/readyz',
  auth: false,
  problems: ['not-ready'],
  answer: Ready,
  operation: {
    operationId: 'ready',
    summary: 'Readiness (Node build only): 200 once the default model has classified its warm-up image',
    responses: { '200': { description: 'ready to serve the default model' } },
  },
};

export const pageOperation: RouteOperation = {
  method: 'get',
  path: '/',
  auth: false,
  problems: ['not-found'],
  operation: { operationId: 'page', summary: 'The demo page', responses: html('one self-contained HTML file') },
};

export const docsOperation: RouteOperation = {
  method: 'get',
  path: '/docs',
  auth: false,
  problems: ['not-found'],
  operation: {
    operationId: 'docs',
    summary: 'An interactive reference for this document (Swagger UI, served offline)',
    responses: html('HTML'),
  },
};

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
