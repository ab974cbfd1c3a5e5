/** The OpenAPI pieces route modules export (worker/routes/*.ts) and worker/openapi/document.ts assembles. */
import type { ProblemCode } from '../errors.js';

/** A JSON Schema (2020-12, OpenAPI 3.1's dialect) or any other OpenAPI object, as plain JSON. */
export type Json = { [key: string]: unknown };

export interface RouteOperation {
  method: 'get' | 'post';
  path: string;
  /** The problems this route can answer besides those every route can (document.ts); become its 4xx/5xx responses. */
  problems: readonly ProblemCode[];
  /** Under /v1/*: a bearer token when API_TOKEN is set (unauthorized joins the problems). */
  auth: boolean;
  /** The OpenAPI Operation Object without the problem responses. */
  operation: Json;
}
