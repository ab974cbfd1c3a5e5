/**
 * Checks a real response against the OpenAPI document the service serves: the operation must declare the status and
 * media type, and the body must match its schema. @cfworker/json-schema (2020-12, OpenAPI 3.1's dialect) because it
 * needs no eval, so the same check runs inside workerd, where ajv's generated code cannot.
 */
import { Validator } from '@cfworker/json-schema';
import { expect } from 'vitest';

const DOCUMENT_URI = 'https://openapi.test/openapi.json';
const pointerSegment = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

export interface ResponseChecker {
  /** Resolves to the parsed body (non-JSON: `{ text }`) once it has been checked against `method path`'s declared response. */
  check(method: 'get' | 'post', path: string, response: Response): Promise<Record<string, unknown>>;
}

export function responseChecker(document: Record<string, unknown>): ResponseChecker {
  // Parsed afresh: the validator annotates the objects it is given.
  const source = JSON.stringify(document);
  return {
    async check(method, path, response) {
      const text = await response.text();
      const mediaType = (response.headers.get('content-type') ?? '').split(';')[0].trim();
      const doc = JSON.parse(source) as {
        paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>;
      };
      const declared = doc.paths[path]?.[method]?.responses[String(response.status)];
      expect(declared, `${method} ${path} declares ${response.status} (${text.slice(0, 200)})`).toBeDefined();
      expect(Object.keys(declared.content ?? {}), `${method} ${path} ${response.status} media types`).toContain(
        mediaType,
      );
      // A page is checked for its status and media type only: its schema is just a string.
      if (!/[/+]json$/.test(mediaType)) return { text };
      const pointer = ['paths', path, method, 'responses', String(response.status), 'content', mediaType, 'schema']
        .map(pointerSegment)
        .join('/');
      const validator = new Validator({ $ref: `${DOCUMENT_URI}#/${pointer}` }, '2020-12', false);
      validator.addSchema(doc as never, DOCUMENT_URI);
      const body = JSON.parse(text) as Record<string, unknown>;
      const result = validator.validate(body);
      expect(
        result.errors.map((error) => `${error.instanceLocation}: ${error.error}`),
        `${method} ${path} ${response.status}: ${text.slice(0, 300)}`,
      ).toEqual([]);
      expect(result.valid).toBe(true);
      return body;
    },
  };
}
