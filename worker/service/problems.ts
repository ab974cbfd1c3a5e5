/**
 * Errors as the service answers them: an ApiError carries a problem code of worker/api/problems.ts, and any other
 * CodedError from the core (an image the decoders refuse, …) is answered by the same table.
 */
import { CodedError } from '../core/errors.js';
import {
  PROBLEM_CONTENT_TYPE,
  PROBLEM_CODES,
  type Problem,
  type ProblemCode,
  problemStatus,
  problemTitle,
  problemType,
} from '../api/problems.js';

/** Thrown anywhere in request handling; the app's error handler turns it into a problem response. */
export class ApiError extends CodedError<ProblemCode> {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(
    code: ProblemCode,
    detail: string,
    options: { details?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(code, detail, options);
    this.name = 'ApiError';
    this.status = problemStatus(code);
    this.headers = options.headers ?? {};
  }

  toProblem(): Problem {
    return {
      type: problemType(this.code),
      title: problemTitle(this.code),
      status: this.status,
      detail: this.message,
      code: this.code,
      ...this.details,
    };
  }
}

const KNOWN_CODES: ReadonlySet<string> = new Set(PROBLEM_CODES);

/** The problem a core error is answered with: its own code (every core code is in the table), details kept. */
export function apiError(error: CodedError): ApiError {
  if (error instanceof ApiError) return error;
  if (!KNOWN_CODES.has(error.code)) {
    return new ApiError('internal-error', `unexpected error code ${error.code}: ${error.message}`, { cause: error });
  }
  return new ApiError(error.code as ProblemCode, error.message, { details: error.details, cause: error });
}

export function problemResponse(error: ApiError): Response {
  return new Response(JSON.stringify(error.toProblem()), {
    status: error.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...error.headers },
  });
}
