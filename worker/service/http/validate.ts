/**
 * Runs a request validator (a valibot schema, the same object the OpenAPI document is generated from:
 * worker/service/openapi/request.ts) and turns its first issue into the problem the API answers.
 */
import * as v from 'valibot';
import { ApiError } from '../problems.js';

/** A query's parameters by name, the first value of each, as `URLSearchParams.get` reads them. */
export function queryValues(query: URLSearchParams): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of query) if (!(name in values)) values[name] = value;
  return values;
}

/** The query's parameters validated and converted by `schema`; an invalid one is 400 bad-parameter naming it. */
export function parseQuery<const TSchema extends v.GenericSchema>(
  schema: TSchema,
  query: URLSearchParams,
): v.InferOutput<TSchema> {
  return parseWith(schema, queryValues(query), (issue) => {
    const parameter = String(issue.path?.[0]?.key ?? 'query');
    return new ApiError('bad-parameter', issue.message, { details: { parameter } });
  });
}

/** `value` validated by `schema`; its first issue (the checks stop there) becomes `problem(issue)`. */
export function parseWith<const TSchema extends v.GenericSchema>(
  schema: TSchema,
  value: unknown,
  problem: (issue: v.InferIssue<TSchema>) => ApiError,
): v.InferOutput<TSchema> {
  const result = v.safeParse(schema, value, { abortEarly: true });
  if (!result.success) throw problem(result.issues[0]);
  return result.output;
}
