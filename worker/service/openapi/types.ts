/** The OpenAPI pieces route modules export (worker/service/routes/*.ts) and worker/service/openapi/document.ts assembles. */
import type * as v from 'valibot';
import type { ProblemCode } from '../../api/problems.js';

/** A JSON Schema (2020-12, OpenAPI 3.1's dialect) or any other OpenAPI object, as plain JSON. */
export type Json = { [key: string]: unknown };

/** A query validator: an object of per-parameter schemas over the raw strings (worker/service/http/validate.ts). */
export type QuerySchema = v.ObjectSchema<v.ObjectEntries, v.ErrorMessage<v.ObjectIssue> | undefined>;

export interface RouteOperation {
  method: 'get' | 'post';
  path: string;
  /** The problems this route can answer besides those every route can (document.ts); become its 4xx/5xx responses. */
  problems: readonly ProblemCode[];
  /** Under /v1/*: a bearer token when API_TOKEN is set (unauthorized joins the problems). */
  auth: boolean;
  /** The schema the handler validates its query with; its entries become the query parameters (request.ts). */
  query?: QuerySchema;
  /** The schema the handler validates an application/json body with; becomes that request body's schema. */
  jsonBody?: v.GenericSchema;
  /**
   * The OpenAPI Operation Object without the problem responses, the query parameters and the JSON body's schema
   * (generated from the two validators above): only what no validator describes (other parameters, raw image
   * bodies, multipart parts, examples, responses).
   */
  operation: Json;
}
