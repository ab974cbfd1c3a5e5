/**
 * The API's problem table (part of the wire contract, read by the service, the OpenAPI document and the client):
 * every error the API returns: an RFC 9457 problem (`application/problem+json`) with a machine-readable `code`.
 * Each code has one HTTP status and one stable `type` URI; docs/api.md lists them.
 */
import * as v from 'valibot';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Problem `type` URIs are tag URIs (RFC 4151): stable identifiers that are not meant to be fetched. */
const TYPE_PREFIX = 'tag:efficientvit-edge,2026:problem:';

const PROBLEMS = {
  'bad-parameter': { status: 400, title: 'Invalid request parameter' },
  'empty-body': { status: 400, title: 'The request has no image' },
  'malformed-body': { status: 400, title: 'The request body cannot be read or parsed' },
  'url-not-allowed': { status: 400, title: 'The image URL may not be fetched' },
  unauthorized: { status: 401, title: 'Missing or invalid bearer token' },
  'not-found': { status: 404, title: 'No such resource' },
  'unknown-model': { status: 404, title: 'No such model' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'body-too-large': { status: 413, title: 'Request body too large' },
  'too-many-pixels': { status: 413, title: 'Image has too many pixels' },
  'image-too-complex': { status: 413, title: 'Decoding the image would take more work than its size justifies' },
  'batch-too-large': { status: 413, title: 'Too many images in one request' },
  'unsupported-content-type': { status: 415, title: 'Unsupported content type' },
  'unsupported-format': { status: 415, title: 'Not a supported image format' },
  'corrupt-image': { status: 422, title: 'The image cannot be decoded' },
  'rate-limited': { status: 429, title: 'Too many requests from this client; retry later' },
  'fetch-failed': { status: 502, title: 'The image URL could not be fetched' },
  'fetch-timeout': { status: 504, title: 'The image URL did not answer in time' },
  'no-embedding': { status: 501, title: 'The model has no embedding output' },
  'model-unavailable': { status: 503, title: 'Model unavailable' },
  overloaded: { status: 503, title: 'Too many requests waiting; retry later' },
  'not-ready': { status: 503, title: 'The server is starting: its default model is not ready yet' },
  'origin-unavailable': { status: 502, title: 'The GPU origin cannot be reached' },
  'origin-error': { status: 502, title: 'The GPU origin failed or gave an answer that is not this API' },
  'origin-timeout': { status: 504, title: 'The GPU origin did not answer in time' },
  'invalid-config': { status: 500, title: 'The service is misconfigured' },
  'internal-error': { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

export function problemType(code: ProblemCode): string {
  return TYPE_PREFIX + code;
}

export function problemStatus(code: ProblemCode): number {
  return PROBLEMS[code].status;
}

export function problemTitle(code: ProblemCode): string {
  return PROBLEMS[code].title;
}

/** Every code, in the table's order (the OpenAPI document and docs/api.md list them all). */
export const PROBLEM_CODES = Object.freeze(Object.keys(PROBLEMS) as ProblemCode[]);

/** An RFC 9457 problem as the API sends it; some add members (parameter, limit, width, height, count, model, …). */
export const Problem = v.pipe(
  v.looseObject({
    type: v.pipe(v.string(), v.description(`${TYPE_PREFIX}<code>, one per code`)),
    title: v.string(),
    status: v.picklist([...new Set(PROBLEM_CODES.map(problemStatus))]),
    detail: v.string(),
    code: v.picklist(PROBLEM_CODES),
  }),
  v.description(
    'An RFC 9457 problem. Some problems add members: parameter, limit, width, height, count, model, available.',
  ),
);
export type Problem = v.InferOutput<typeof Problem>;
