/** The images of a classify or embed request: the raw body, a multipart batch, or image URLs in a JSON body. */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../problems.js';
import { fetchImage } from '../fetch/fetch-image.js';
import {
  type bodyKind,
  readImageUrls,
  readMultipartImages,
  readSingleImage,
  type UploadedImage,
} from '../http/body.js';
import { bodyLimit } from '../http/body-limit.js';
import type { RouteContext } from './context.js';

/** An image to run, or why it could not be had (a batch URL that failed to fetch is answered in its slot). */
export type Input = UploadedImage | { error: ApiError; url: string };

/** MAX_BODY_BYTES on the request body, declared or counted while streaming. */
export function imageBodyLimit({ config }: RouteContext): MiddlewareHandler {
  return bodyLimit({
    maxSize: config.maxBodyBytes,
    onError: () => {
      throw new ApiError('body-too-large', `the request body is larger than ${config.maxBodyBytes} bytes`, {
        details: { limit: config.maxBodyBytes },
      });
    },
  });
}

/** The images of a JSON body, fetched concurrently; a single URL's failure is the request's. */
async function fetchInputs(
  request: Request,
  { config, urlFetcher }: RouteContext,
): Promise<{ inputs: Input[]; batch: boolean }> {
  const { urls, batch } = await readImageUrls(request, config.maxBatch);
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
  const inputs = fetched.map((result, index): Input => {
    if (result.status === 'fulfilled') return { bytes: result.value, url: urls[index] };
    if (!batch || !(result.reason instanceof ApiError)) throw result.reason;
    return { error: result.reason, url: urls[index] };
  });
  return { inputs, batch };
}

/** The request's images in order, and whether it was a batch (multipart, or `urls`). */
export async function readInputs(
  request: Request,
  kind: ReturnType<typeof bodyKind>,
  routes: RouteContext,
): Promise<{ inputs: Input[]; batch: boolean }> {
  if (kind === 'json') return fetchInputs(request, routes);
  if (kind === 'multipart') return { inputs: await readMultipartImages(request, routes.config.maxBatch), batch: true };
  return { inputs: [await readSingleImage(request)], batch: false };
}

/** `filename` (multipart) and `url` (JSON) of an input, as batch results name them. */
export function inputSource(input: Input): { filename?: string; url?: string } {
  const filename = 'filename' in input ? input.filename : undefined;
  return { ...(filename ? { filename } : {}), ...('url' in input && input.url ? { url: input.url } : {}) };
}
