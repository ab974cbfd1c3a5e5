/** The images of an image operation's request: the raw body, a multipart batch, or image URLs in a JSON body. */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../problems.js';
import { fetchImage } from '../fetch/fetch-image.js';
import {
  type BodyKind,
  type ImageUrls,
  readImageUrls,
  readMultipartImages,
  readSingleImage,
  type UploadedImage,
} from '../http/body.js';
import { bodyLimit } from '../http/body-limit.js';
import type { Services } from '../services.js';

/** An image to run, or why it could not be had (a batch URL that failed to fetch is answered in its slot). */
export type Input = UploadedImage | { error: ApiError; url: string };

/** MAX_BODY_BYTES on the request body, declared or counted while streaming. */
export function imageBodyLimit({ config }: Services): MiddlewareHandler {
  return bodyLimit({
    maxSize: config.maxBodyBytes,
    onError: () => {
      throw new ApiError('body-too-large', `the request body is larger than ${config.maxBodyBytes} bytes`, {
        details: { limit: config.maxBodyBytes },
      });
    },
  });
}

/** A request body read once: its image, its multipart images, or its image URLs (not fetched yet). */
export type ReadBody =
  | { kind: 'single'; image: UploadedImage }
  | { kind: 'multipart'; images: UploadedImage[] }
  | { kind: 'json'; urls: ImageUrls };

/** Reads the body as `kind` says, within MAX_BATCH; nothing is fetched or decoded yet. */
export async function readBody(request: Request, kind: BodyKind, maxBatch: number): Promise<ReadBody> {
  if (kind === 'json') return { kind, urls: await readImageUrls(request, maxBatch) };
  if (kind === 'multipart') return { kind, images: await readMultipartImages(request, maxBatch) };
  return { kind, image: await readSingleImage(request) };
}

/** How many images a body holds (what the GPU origin will be asked to run). */
export function imageCount(body: ReadBody): number {
  return body.kind === 'single' ? 1 : body.kind === 'multipart' ? body.images.length : body.urls.urls.length;
}

/** The request's images in order (URLs fetched, concurrently), whether it was a batch, and the fetch's time. */
export async function inputsOf(
  body: ReadBody,
  { config, urlFetcher, clock }: Pick<Services, 'config' | 'urlFetcher' | 'clock'>,
): Promise<{ inputs: Input[]; batch: boolean; fetchMs?: number }> {
  if (body.kind === 'single') return { inputs: [body.image], batch: false };
  if (body.kind === 'multipart') return { inputs: body.images, batch: true };
  const { urls, batch } = body.urls;
  const started = clock();
  const fetched = await Promise.allSettled(
    urls.map((url) =>
      fetchImage(url, {
        policy: config.fetchAllowedHosts,
        maxBytes: config.maxBodyBytes,
        timeoutMs: config.fetchTimeoutMs,
        fetcher: urlFetcher,
      }),
    ),
  );
  // A single URL's failure is the request's; a batch answers it in its slot.
  const inputs = fetched.map((result, index): Input => {
    if (result.status === 'fulfilled') return { bytes: result.value, url: urls[index] };
    if (!batch || !(result.reason instanceof ApiError)) throw result.reason;
    return { error: result.reason, url: urls[index] };
  });
  return { inputs, batch, fetchMs: clock() - started };
}

/** `filename` (multipart) and `url` (JSON) of an input, as batch results name them. */
export function inputSource(input: Input): { filename?: string; url?: string } {
  const filename = 'filename' in input ? input.filename : undefined;
  return { ...(filename ? { filename } : {}), ...('url' in input && input.url ? { url: input.url } : {}) };
}
