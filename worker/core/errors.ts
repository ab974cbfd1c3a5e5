/**
 * What core code throws when the input (an image, a manifest, a limit) is the cause: a stable machine-readable `code`
 * and details, and no HTTP meaning. The service maps each code to a status and a problem document
 * (worker/api/problems.ts); the toolchain and the CLIs print the message.
 */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;
  /** Machine-readable facts about the failure (a limit, the width and height, …); become the problem's members. */
  readonly details: Record<string, unknown>;

  constructor(code: Code, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'CodedError';
    this.code = code;
    this.details = options.details ?? {};
  }
}
