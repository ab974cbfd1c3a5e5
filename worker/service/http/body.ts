/**
 * Reads the images of a classify request: the raw body (one image) or the `image` fields of a multipart form (a
 * batch). The media type only chooses between the two; an image's format is always sniffed from its bytes.
 */
import { ApiError } from '../problems.js';
import { parseWith } from './validate.js';
import { IMAGE_FIELD } from '../../api/image-request.js';
import { UrlBody, UrlsBody } from '../../api/image-urls.js';

export interface UploadedImage {
  bytes: Uint8Array;
  /** The multipart part's file name, when it had one. */
  filename?: string;
  /** Classify by URL: the URL the bytes were fetched from. */
  url?: string;
}

/** `json`: `{"url": …}` or `{"urls": [...]}`, images the service fetches (worker/service/fetch/). */
export type BodyKind = 'single' | 'multipart' | 'json';

/** Decides how to read the body from its Content-Type, before any of it is read. */
export function bodyKind(contentType: string | undefined): BodyKind {
  const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType === 'multipart/form-data') return 'multipart';
  if (mediaType === 'application/json') return 'json';
  // No Content-Type is taken as raw bytes: the format is sniffed anyway.
  if (mediaType === '' || mediaType === 'application/octet-stream' || /^image\/[a-z0-9.+-]+$/.test(mediaType)) {
    return 'single';
  }
  throw new ApiError(
    'unsupported-content-type',
    `Content-Type ${JSON.stringify(mediaType)} is not accepted: send image bytes as image/* or application/octet-stream, ` +
      `or a batch as multipart/form-data with "${IMAGE_FIELD}" fields, or image URLs as application/json`,
    { details: { contentType: mediaType } },
  );
}

function unreadable(error: unknown): never {
  if (error instanceof ApiError) throw error;
  const reason = error instanceof Error ? error.message : String(error);
  throw new ApiError('malformed-body', `the request body cannot be read: ${reason}`, { cause: error });
}

export async function readSingleImage(request: Request): Promise<UploadedImage> {
  const bytes = new Uint8Array(await request.arrayBuffer().catch(unreadable));
  if (bytes.byteLength === 0) throw new ApiError('empty-body', 'the request body is empty: send the image bytes');
  return { bytes };
}

export async function readMultipartImages(request: Request, maxBatch: number): Promise<UploadedImage[]> {
  const form = await request.formData().catch(unreadable);
  const parts = form.getAll(IMAGE_FIELD);
  if (parts.length === 0) {
    throw new ApiError('empty-body', `the multipart body has no "${IMAGE_FIELD}" field`);
  }
  if (parts.length > maxBatch) {
    throw new ApiError('batch-too-large', `${parts.length} images in one request; the limit is ${maxBatch}`, {
      details: { limit: maxBatch, count: parts.length },
    });
  }
  const images: UploadedImage[] = [];
  for (const part of parts) {
    if (typeof part === 'string') {
      throw new ApiError('bad-parameter', `"${IMAGE_FIELD}" fields must be files, not text`, {
        details: { parameter: IMAGE_FIELD },
      });
    }
    const file = part as File;
    images.push({ bytes: new Uint8Array(await file.arrayBuffer()), ...(file.name ? { filename: file.name } : {}) });
  }
  return images;
}

export interface ImageUrls {
  urls: string[];
  /** `{"urls": [...]}`: answered as a batch, in order, like multipart. */
  batch: boolean;
}

function bodyProblem(issue: { type: string; message: string }): ApiError {
  if (issue.type === 'min_length') return new ApiError('empty-body', issue.message);
  return new ApiError('bad-parameter', issue.message, { details: { parameter: 'body' } });
}

/** `{"url": "https://…"}` or `{"urls": ["https://…", …]}` (at most maxBatch). */
export async function readImageUrls(request: Request, maxBatch: number): Promise<ImageUrls> {
  const text = await request.text().catch(unreadable);
  if (text.trim() === '') throw new ApiError('empty-body', 'the request body is empty: send {"url": "https://…"}');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new ApiError('malformed-body', `the JSON body cannot be parsed: ${(error as Error).message}`);
  }
  // The one key chooses the schema, so a wrong `url` is reported as that rather than as "neither shape".
  const urls = typeof body === 'object' && body !== null && 'urls' in body;
  const parsed = parseWith(urls ? UrlsBody : UrlBody, body, bodyProblem);
  if ('url' in parsed) return { urls: [parsed.url], batch: false };
  if (parsed.urls.length > maxBatch) {
    throw new ApiError('batch-too-large', `${parsed.urls.length} images in one request; the limit is ${maxBatch}`, {
      details: { limit: maxBatch, count: parsed.urls.length },
    });
  }
  return { urls: parsed.urls, batch: true };
}
