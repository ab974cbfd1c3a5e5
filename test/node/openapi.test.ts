/**
 * The OpenAPI document itself: valid OpenAPI 3.1 by a maintained validator (the JSON Schema of the OpenAPI
 * Initiative), and consistent with docs/api.md's error table. Its responses are checked against real servers by
 * test/conformance/openapi.cases.ts.
 */
import { readFile } from 'node:fs/promises';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { PROBLEM_CODES, problemStatus } from '../../worker/errors.js';
import { openApiDocument } from '../../worker/openapi/document.js';

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
    const markdown = await readFile(new URL('../../docs/api.md', import.meta.url), 'utf8');
    const rows = [...markdown.matchAll(/^\| (\d{3}) +\| `([a-z-]+)` +\|/gm)].map(([, status, code]) => [code, status]);
    expect(Object.fromEntries(rows)).toEqual(
      Object.fromEntries(PROBLEM_CODES.map((code) => [code, String(problemStatus(code))])),
    );
  });
});
