/**
 * hono/body-limit, with one difference: a chunked body whose stream fails (the client reset, a malformed chunk) is
 * `400 malformed-body`. Hono's middleware reads such bodies itself and lets the stream's error escape as a plain
 * Error, which reached the app's handler as a 500 (workerd) or an unhandled "aborted" (Node).
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { ApiError } from '../problems.js';

export function bodyLimit(options: { maxSize: number; onError: () => never }): MiddlewareHandler {
  const limit = honoBodyLimit(options);
  return async (c, next) => {
    let reachedHandler = false;
    try {
      await limit(c, async () => {
        reachedHandler = true;
        await next();
      });
    } catch (error) {
      // Only errors of reading the body are mapped; the handler's own errors pass through unchanged.
      if (reachedHandler || error instanceof ApiError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError('malformed-body', `the request body cannot be read: ${reason}`, { cause: error });
    }
  };
}
