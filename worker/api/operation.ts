/** What each operation module of the contract exports, and openapi.ts assembles into the document. */
import type * as v from 'valibot';
import type { ProblemCode } from './problems.js';

/** A JSON Schema (2020-12, OpenAPI 3.1's dialect) or any other OpenAPI object, as plain JSON. */
export type Json = { [key: string]: unknown };

/** A query validator: an object of per-parameter schemas over the raw strings (worker/service/http/validate.ts). */
export type QuerySchema = v.ObjectSchema<v.ObjectEntries, v.ErrorMessage<v.ObjectIssue> | undefined>;

export interface RouteOperation {
  method: 'get' | 'post' | 'put';
  path: string;
  /** The problems this route can answer besides those every route can (openapi.ts); become its 4xx/5xx responses. */
  problems: readonly ProblemCode[];
  /** Under /v1/*: a bearer token when API_TOKEN is set, the rate limit when one is set (both join the problems). */
  auth: boolean;
  /** The schema the service validates the query with; its entries become the query parameters. */
  query?: QuerySchema;
  /** The schema the service validates an application/json body with; becomes that request body's schema. */
  jsonBody?: v.GenericSchema;
  /** The success answer's JSON schema (`answerStatus`, default 200): the service's answers are typed by it. */
  answer?: v.GenericSchema;
  answerStatus?: 200 | 201 | 202;
  /**
   * The OpenAPI Operation Object without what the schemas above generate (the problem responses, the query
   * parameters, the JSON request body's schema and the answer's schema): only what no schema describes (summary,
   * other parameters, raw image bodies, multipart parts, examples, headers, non-JSON responses).
   */
  operation: Json;
}
