import { expect } from 'vitest';
import { ImageError } from '../../worker/core/image/errors.js';

/** The ImageError a decode rejects with; fails the test when it resolves or rejects with anything else. */
export async function decodeError(promise: Promise<unknown>): Promise<ImageError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageError);
  return error as ImageError;
}
