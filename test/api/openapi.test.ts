/**
 * The OpenAPI document itself: valid OpenAPI 3.1 by a maintained validator (the JSON Schema of the OpenAPI
 * Initiative), and consistent with docs/api.md's error table. Its responses are checked against real servers by
 * test/service/conformance/openapi.cases.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Validator as JsonSchemaValidator } from '@cfworker/json-schema';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { ApiProblemError, createClient } from '../../worker/client/index.js';
import { parseConfig } from '../../worker/service/config.js';
import { ApiError } from '../../worker/service/problems.js';
import { PROBLEM_CODES, problemStatus } from '../../worker/api/problems.js';
import { readImageUrls } from '../../worker/service/http/body.js';
import { parseQuery } from '../../worker/service/http/validate.js';
import { openApiDocument } from '../../worker/api/openapi.js';
import { ClassifyQuery as classifyQuery } from '../../worker/api/classify.js';
import { EmbedQuery as embedQuery } from '../../worker/api/embed.js';
import { writeConformanceModels } from '../service/conformance/models.js';
import { responseChecker } from '../service/conformance/openapi-check.js';
import { CONFORMANCE_CONFIG } from '../service/conformance/target.js';
import { startTestNodeServer } from '../helpers/node-server.js';

const apiMarkdown = () => readFile(new URL('../../docs/api.md', import.meta.url), 'utf8');

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(openApiDocument());
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('the validator rejects a broken document (the check above can fail)', async () => {
    const broken = openApiDocument();
    (broken.paths as Record<string, Record<string, { responses: unknown }>>)['/v1/models'].get.responses = 'none';
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it('every problem code has a response with its status on some operation', () => {
    const document = openApiDocument() as {
      paths: Record<string, Record<string, { responses: Record<string, { description: string }> }>>;
    };
    const declared = new Set<string>();
    for (const operations of Object.values(document.paths)) {
      for (const operation of Object.values(operations)) {
        for (const [status, response] of Object.entries(operation.responses)) {
          for (const code of PROBLEM_CODES) {
            if (response.description.split('; ').some((part) => part.startsWith(`${code}:`))) {
              expect(status).toBe(String(problemStatus(code)));
              declared.add(code);
            }
          }
        }
      }
    }
    expect([...declared].sort()).toEqual([...PROBLEM_CODES].sort());
  });

  it("every code is in docs/api.md's error table with its status, and the table has no other", async () => {
    const markdown = await apiMarkdown();
    const rows = [...markdown.matchAll(/^\| (\d{3}) +\| `([a-z-]+)` +\|/gm)].map(([, status, code]) => [code, status]);
    expect(Object.fromEntries(rows)).toEqual(
      Object.fromEntries(PROBLEM_CODES.map((code) => [code, String(problemStatus(code))])),
    );
  });

  it("docs/api.md's endpoint table lists exactly the document's operations", async () => {
    const markdown = await apiMarkdown();
    const rows = [...markdown.matchAll(/^\| `(GET|POST)` +\| `([^`]+)` +\|/gm)].map(
      ([, method, route]) => `${method} ${route}`,
    );
    const paths = openApiDocument().paths as Record<string, Record<string, unknown>>;
    const operations = Object.entries(paths).flatMap(([route, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${route}`),
    );
    expect(rows.sort()).toEqual(operations.sort());
  });
});

interface Parameter {
  name: string;
  in: string;
  explode?: boolean;
  schema: { type?: string; default?: unknown };
}

/** The value a query string means under OpenAPI's form style: an integer literal, a comma-separated list, a string. */
function deserialize(raw: string, schema: Parameter['schema']): unknown {
  if (schema.type === 'integer') return /^-?[0-9]+$/.test(raw) ? Number(raw) : raw;
  if (schema.type === 'array') return raw.split(',');
  return raw;
}

const accepts = (schema: unknown, value: unknown) =>
  new JsonSchemaValidator(schema as never, '2020-12', false).validate(value).valid;

/** Whether the handler's own check lets the value through, or answers it with a problem (whose code is returned). */
function validatorOutcome(run: () => unknown): true | string {
  try {
    run();
    return true;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    return error.code;
  }
}

const QUERY_SAMPLES: Record<string, string[]> = {
  model: ['m0', 'efficientvit_m1.fp32', ' m0', '', ' ', '\t'],
  top_k: [
    '1',
    '5',
    '1000',
    '0005',
    '00005',
    '0',
    '1001',
    '-1',
    '2.5',
    'abc',
    '',
    '+5',
    '1e2',
    ' 5',
    '99999999999999999999',
  ],
  include: ['input', 'input,input', 'inputs', '', 'input,', ',input', 'INPUT'],
  encoding: ['json', 'base64', 'hex', '', 'JSON'],
  fallback: ['m0', 'none', ''],
};

describe('the parameters and JSON bodies, generated from the validators', () => {
  const paths = openApiDocument().paths as Record<
    string,
    { post: { parameters: Parameter[]; requestBody: { content: Record<string, { schema: unknown }> } } }
  >;

  for (const [path, schema] of [
    ['/v1/classify', classifyQuery],
    ['/v1/embed', embedQuery],
  ] as const) {
    it(`${path}: each documented query parameter accepts exactly what the handler's validator accepts`, () => {
      const query = paths[path].post.parameters.filter((parameter) => parameter.in === 'query');
      expect(query.map((parameter) => parameter.name)).toEqual(Object.keys(schema.entries));
      for (const parameter of query) {
        for (const raw of QUERY_SAMPLES[parameter.name]) {
          const outcome = validatorOutcome(() => parseQuery(schema, new URLSearchParams({ [parameter.name]: raw })));
          expect(outcome === true ? true : outcome, `${parameter.name}=${JSON.stringify(raw)}`).toBe(
            accepts(parameter.schema, deserialize(raw, parameter.schema)) ? true : 'bad-parameter',
          );
        }
        // The documented default is what the handler reads when the parameter is absent.
        if (parameter.schema.default !== undefined) {
          const absent = parseQuery(schema, new URLSearchParams()) as Record<string, unknown>;
          expect(absent[parameter.name]).toEqual(parameter.schema.default);
        }
      }
    });
  }

  it("the application/json body schema accepts exactly the bodies readImageUrls accepts (embed's is classify's)", async () => {
    const content = paths['/v1/classify'].post.requestBody.content['application/json'];
    expect(paths['/v1/embed'].post.requestBody.content['application/json'].schema).toEqual(content.schema);
    // Well-formed URLs only: which URLs may be fetched is the fetch policy's question (url-not-allowed), not the body's.
    const url = 'https://images.example.com/cat.jpg';
    const bodies: unknown[] = [
      { url },
      { urls: [url] },
      { urls: [url, url] },
      { urls: [] },
      { urls: [1] },
      { urls: url },
      { url: 1 },
      { url: [url] },
      { link: url },
      { url, urls: [url] },
      { url, extra: 1 },
      [url],
      url,
      null,
      {},
    ];
    for (const body of bodies) {
      let outcome: true | string = true;
      await readImageUrls(new Request('http://edge.test/', { method: 'POST', body: JSON.stringify(body) }), 8).catch(
        (error: unknown) => {
          if (!(error instanceof ApiError)) throw error;
          outcome = error.code;
        },
      );
      expect(outcome === true, JSON.stringify(body)).toBe(accepts(content.schema, body));
    }
  });
});

describe('the client with API_TOKEN set (Node server)', () => {
  it('sends the token; without it, 401 unauthorized as the document declares', async () => {
    const modelsDir = mkdtempSync(path.join(os.tmpdir(), 'openapi-auth-'));
    writeConformanceModels(modelsDir);
    const server = await startTestNodeServer(modelsDir, {
      config: parseConfig({ ...CONFORMANCE_CONFIG, API_TOKEN: 'open-sesame' }),
    });
    try {
      const checker = responseChecker(openApiDocument());
      const models = await createClient({ baseUrl: `${server.url}/`, token: 'open-sesame' }).models();
      expect(models.models.length).toBeGreaterThan(0);

      const error = await createClient({ baseUrl: server.url, token: 'wrong' })
        .models()
        .catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(ApiProblemError);
      expect(error).toMatchObject({ status: 401, code: 'unauthorized' });
      await checker.check('get', '/v1/models', await fetch(`${server.url}/v1/models`));
    } finally {
      await server.close();
      rmSync(modelsDir, { recursive: true, force: true });
    }
  });
});
