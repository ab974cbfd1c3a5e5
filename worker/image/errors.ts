import { ApiError } from '../errors.js';

/**
 * What the image modules throw. Each code has its HTTP status in worker/errors.ts: `unsupported-format` 415 (not
 * JPEG/PNG/WebP/GIF, or a variant we cannot decode), `corrupt-image` 422 (truncated or corrupt data of a supported
 * format), `too-many-pixels` 413 (header dimensions over the limit, found before decoding), `image-too-complex` 413 (decoding
 * would cost more work than the image's size justifies, e.g. a PNG split into tiny chunks).
 */
export type ImageErrorCode = 'unsupported-format' | 'corrupt-image' | 'too-many-pixels' | 'image-too-complex';

export class ImageError extends ApiError {
  declare readonly code: ImageErrorCode;

  constructor(
    code: ImageErrorCode,
    message: string,
    options: { extensions?: Record<string, unknown>; cause?: unknown } = {},
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
