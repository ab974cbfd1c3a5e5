/**
 * The OpenAPI document itself: valid OpenAPI 3.1 by a maintained validator (the JSON Schema of the OpenAPI
 * Initiative), and consistent with docs/api.md's error table. Its responses are checked against real servers by
 * test/conformance/openapi.cases.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { ApiProblemError, createClient } from '../../worker/client/index.js';
import { parseConfig } from '../../worker/config.js';
import { PROBLEM_CODES, problemStatus } from '../../worker/errors.js';
import { openApiDocument } from '../../worker/openapi/document.js';
import { writeConformanceModels } from '../conformance/models.js';
import { responseChecker } from '../conformance/openapi-check.js';
import { CONFORMANCE_CONFIG } from '../conformance/target.js';
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
