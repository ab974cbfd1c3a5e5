/**
 * The OpenAPI 3.1 document, assembled from the operations the route modules export beside their handlers (their
 * parameters and JSON bodies generated from the handlers' validators: request.ts), the problem table
 * (worker/service/problems.ts) and the response schemas (schemas.ts): nothing here restates an endpoint.
 */
import type { ProblemCode } from '../../api/problems.js';
import { classifyOperation } from '../routes/classify.js';
import { docsOperation } from '../routes/docs.js';
import { embedOperation } from '../routes/embed.js';
import { healthOperation, readyzOperation } from '../routes/health.js';
import { modelsOperation } from '../routes/models.js';
import { openApiOperation } from '../routes/openapi.js';
import { pageOperation } from '../routes/page.js';
import { problemExamples, problemResponses } from './problems.js';
import { withRequestSchemas } from './request.js';
import { COMPONENT_SCHEMAS } from './schemas.js';
import type { Json, RouteOperation } from './types.js';

/** A function, not a constant: routes/openapi.ts imports this module, so its operation is not ready at load time. */
export function operations(): readonly RouteOperation[] {
  return [
    classifyOperation,
    embedOperation,
    modelsOperation,
    readyzOperation,
    healthOperation,
    pageOperation,
    docsOperation,
    openApiOperation,
  ];
}

/** What any route can answer: a wrong method (405 with Allow), a bug, a misconfigured Worker (every request). */
const EVERY_ROUTE: readonly ProblemCode[] = ['method-not-allowed', 'invalid-config', 'internal-error'];

export function openApiDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const route of operations()) {
    const problems = [...route.problems, ...(route.auth ? (['unauthorized'] as const) : []), ...EVERY_ROUTE];
    const operation = withRequestSchemas(route) as { responses: Json };
    paths[route.path] = {
      ...paths[route.path],
      [route.method]: {
        ...operation,
        ...(route.auth ? { security: [{}, { bearer: [] }] } : {}),
        responses: { ...operation.responses, ...problemResponses(problems) },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'EfficientViT at the edge',
      version: '1',
      description:
        'EfficientViT-M0…M5 ImageNet classification. Every error is application/problem+json (RFC 9457) with a ' +
        'machine-readable code; docs/api.md describes the behaviour in full.',
    },
    paths,
    components: {
      schemas: COMPONENT_SCHEMAS,
      examples: problemExamples(),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'only when the service sets API_TOKEN (/v1/*)' },
      },
    },
  };
}
