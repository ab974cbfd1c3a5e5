/**
 * The request half of an operation generated from its validators (RouteOperation.query, .jsonBody) by valibot's own
 * converter, so a documented parameter can never drift from the check the handler runs.
 */
import { toJsonSchema } from '@valibot/to-json-schema';
import * as v from 'valibot';
import type { Json, QuerySchema, RouteOperation } from './types.js';

/**
 * `output`: a query value is a string on the wire, but OpenAPI describes the value after deserialization
 * (`top_k` an integer, `include` an array), which is the validator's output type.
 */
export function jsonSchemaOf(schema: v.GenericSchema): Json {
  const { $schema: _dialect, ...json } = toJsonSchema(schema, { target: 'draft-2020-12', typeMode: 'output' }) as Json;
  // A valibot default is the raw input ("5"); the documented default is what the validator makes of an absent value.
  delete json.default;
  const absent = v.safeParse(schema, undefined);
  if (absent.success && absent.output !== undefined) json.default = absent.output;
  return json;
}

/** One Parameter Object per entry of the query schema, in its order; `description` moves up from the schema. */
export function queryParameters(query: QuerySchema): Json[] {
  return Object.entries(query.entries).map(([name, entry]) => {
    const { description, ...schema } = jsonSchemaOf(entry);
    return {
      name,
      in: 'query',
      ...(description ? { description } : {}),
      ...(entry.type === 'optional' ? {} : { required: true }),
      schema,
      // A list is one comma-separated value (style form, explode false), as `include` is parsed.
      ...(schema.type === 'array' ? { explode: false } : {}),
    };
  });
}

/** The operation with its generated parameters (before any hand-written ones) and JSON request body schema. */
export function withRequestSchemas(route: RouteOperation): Json {
  const operation = route.operation;
  const written = (operation.parameters as Json[] | undefined) ?? [];
  const parameters = [...(route.query ? queryParameters(route.query) : []), ...written];
  const requestBody = operation.requestBody as { content: Record<string, Json> } | undefined;
  return {
    ...operation,
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(requestBody && route.jsonBody
      ? {
          requestBody: {
            ...requestBody,
            content: {
              ...requestBody.content,
              'application/json': { schema: jsonSchemaOf(route.jsonBody), ...requestBody.content['application/json'] },
            },
          },
        }
      : {}),
  };
}
