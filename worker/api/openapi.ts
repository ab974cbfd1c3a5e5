/**
 * The OpenAPI 3.1 document, generated from the contract: each operation's query, JSON body and answer from the
 * valibot schemas the service validates with and types its answers by (valibot's own converter), its problem
 * responses from the problem table. Nothing here restates an endpoint.
 */
import { type ConversionConfig, toJsonSchema, toJsonSchemaDefs } from '@valibot/to-json-schema';
import * as v from 'valibot';
import { BatchResult, ClassifyResult, classifyOperation } from './classify.js';
import { Prediction } from './common.js';
import { EmbedBatchResult, EmbedResult, embedOperation } from './embed.js';
import { docsOperation, healthOperation, openApiOperation, pageOperation, readyzOperation } from './meta.js';
import { Model, ModelsResult, modelsOperation } from './models.js';
import type { Json, QuerySchema, RouteOperation } from './operation.js';
import {
  PROBLEM_CODES,
  PROBLEM_CONTENT_TYPE,
  Problem,
  type ProblemCode,
  problemStatus,
  problemTitle,
  problemType,
} from './problems.js';
import { Timing } from './timing.js';

/** Every operation, in the document's order. */
export const OPERATIONS: readonly RouteOperation[] = [
  classifyOperation,
  embedOperation,
  modelsOperation,
  readyzOperation,
  healthOperation,
  pageOperation,
  docsOperation,
  openApiOperation,
];

/** The schemas the document names (components.schemas): wherever one appears, the document refers to it. */
const COMPONENTS = {
  Problem,
  Prediction,
  Timing,
  ClassifyResult,
  BatchResult,
  EmbedResult,
  EmbedBatchResult,
  Model,
  Models: ModelsResult,
};

/** What any route can answer: a wrong method (405 with Allow), a bug, a misconfigured Worker (every request). */
const EVERY_ROUTE: readonly ProblemCode[] = ['method-not-allowed', 'invalid-config', 'internal-error'];

export const ref = (kind: 'schemas' | 'examples' | 'responses', name: string): Json => ({
  $ref: `#/components/${kind}/${name}`,
});

const CONVERSION: ConversionConfig = {
  target: 'draft-2020-12',
  // A query value is a string on the wire, but OpenAPI describes it after deserialization (`top_k` an integer,
  // `include` an array): the validator's output type.
  typeMode: 'output',
  definitions: COMPONENTS,
  overrideRef: ({ referenceId }) => `#/components/schemas/${referenceId}`,
};

/** One schema as the document shows it: named components by reference, no dialect or local $defs. */
export function jsonSchemaOf(schema: v.GenericSchema): Json {
  const { $schema: _dialect, $defs: _defs, ...json } = toJsonSchema(schema, CONVERSION) as Json;
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

type Responses = Record<string, { content?: Record<string, Json> } & Json>;

/** The operation with its generated parameters (before any written ones), JSON body and answer schemas. */
function withSchemas(route: RouteOperation): Json {
  const operation = route.operation;
  const written = (operation.parameters as Json[] | undefined) ?? [];
  const parameters = [...(route.query ? queryParameters(route.query) : []), ...written];
  const requestBody = operation.requestBody as { content: Record<string, Json> } | undefined;
  const responses = { ...(operation.responses as Responses) };
  if (route.answer) {
    const status = String(route.answerStatus ?? 200);
    const declared = responses[status] ?? { description: 'the answer' };
    const json = declared.content?.['application/json'] ?? {};
    responses[status] = {
      ...declared,
      content: { ...declared.content, 'application/json': { schema: jsonSchemaOf(route.answer), ...json } },
    };
  }
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
    responses,
  };
}

/** One example per code: its type, title and status exactly as the service sends them. */
function problemExamples(): Record<string, Json> {
  return Object.fromEntries(
    PROBLEM_CODES.map((code) => [
      `problem-${code}`,
      {
        summary: `${problemStatus(code)} ${code}`,
        value: {
          type: problemType(code),
          title: problemTitle(code),
          status: problemStatus(code),
          detail: `(varies: says what was wrong) ${problemTitle(code)}`,
          code,
        },
      },
    ]),
  );
}

/** The Responses entries for `codes`, one per status, each naming its codes and pointing at their examples. */
function problemResponses(codes: readonly ProblemCode[]): Record<string, Json> {
  const byStatus = new Map<number, ProblemCode[]>();
  for (const code of new Set(codes))
    byStatus.set(problemStatus(code), [...(byStatus.get(problemStatus(code)) ?? []), code]);
  return Object.fromEntries(
    [...byStatus]
      .sort(([a], [b]) => a - b)
      .map(([status, group]) => [
        String(status),
        {
          description: group.map((code) => `${code}: ${problemTitle(code)}`).join('; '),
          content: {
            [PROBLEM_CONTENT_TYPE]: {
              schema: {
                allOf: [
                  ref('schemas', 'Problem'),
                  { properties: { status: { const: status }, code: { enum: group } } },
                ],
              },
              examples: Object.fromEntries(group.map((code) => [code, ref('examples', `problem-${code}`)])),
            },
          },
        },
      ]),
  );
}

export function openApiDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const route of OPERATIONS) {
    const problems = [
      ...route.problems,
      ...(route.auth ? (['unauthorized', 'rate-limited'] as const) : []),
      ...EVERY_ROUTE,
    ];
    const operation = withSchemas(route) as { responses: Json };
    paths[route.path] = {
      ...paths[route.path],
      [route.method]: {
        ...operation,
        ...(route.auth ? { security: [{}, { bearer: [] }] } : {}),
        responses: { ...operation.responses, ...problemResponses(problems) },
      },
    };
  }
  const { $schema: _dialect, ...schemas } = toJsonSchemaDefs(COMPONENTS, CONVERSION) as Json;
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
      schemas,
      examples: problemExamples(),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'only when the service sets API_TOKEN (/v1/*)' },
      },
    },
  };
}
