/** Problem responses and the problem+json schema, generated from the one table in worker/service/problems.ts. */
import {
  PROBLEM_CODES,
  PROBLEM_CONTENT_TYPE,
  type ProblemCode,
  problemStatus,
  problemTitle,
  problemType,
} from '../../api/problems.js';
import type { Json } from './types.js';

export const ref = (kind: 'schemas' | 'examples' | 'responses', name: string): Json => ({
  $ref: `#/components/${kind}/${name}`,
});

export const PROBLEM_SCHEMA: Json = {
  type: 'object',
  description:
    'An RFC 9457 problem. Some problems add members: parameter, limit, width, height, count, model, available.',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', description: 'tag:efficientvit-edge,2026:problem:<code>, one per code' },
    title: { type: 'string' },
    status: { type: 'integer', enum: [...new Set(PROBLEM_CODES.map(problemStatus))] },
    detail: { type: 'string' },
    code: { type: 'string', enum: [...PROBLEM_CODES] },
  },
  additionalProperties: true,
};

/** One example per code: its type, title and status exactly as the service sends them. */
export function problemExamples(): Record<string, Json> {
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
export function problemResponses(codes: readonly ProblemCode[]): Record<string, Json> {
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
