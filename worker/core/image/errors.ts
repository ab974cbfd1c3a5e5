import { CodedError } from '../errors.js';

/**
 * What the image modules throw: `unsupported-format` (not JPEG/PNG/WebP/GIF, or a variant we cannot decode),
 * `corrupt-image` (truncated or corrupt data of a supported format), `too-many-pixels` (header dimensions over the
 * limit, found before decoding), `image-too-complex` (decoding would cost more work than the image's size justifies,
 * e.g. a PNG split into tiny chunks). The service answers them 415, 422, 413 and 413 (worker/api/problems.ts).
 */
export type ImageErrorCode = 'unsupported-format' | 'corrupt-image' | 'too-many-pixels' | 'image-too-complex';

export class ImageError extends CodedError<ImageErrorCode> {
  constructor(
    code: ImageErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.name = 'ImageError';
  }
}

export function corrupt(format: string, detail: string, cause?: unknown): ImageError {
  return new ImageError('corrupt-image', `corrupt ${format} image: ${detail}`, { cause });
}

export function unsupported(format: string, detail: string): ImageError {
  return new ImageError('unsupported-format', `unsupported ${format} variant: ${detail}`);
}
