/** The JSON body of the image operations: image URLs the service fetches instead of an upload. */
import * as v from 'valibot';

const BODY_SHAPE = 'the JSON body must be {"url": "https://…"} or {"urls": ["https://…", …]}';
const URLS_TYPE = '"urls" must be an array of strings';
/** An annotation only: which URLs may be fetched is the fetch policy's decision (400 url-not-allowed). */
const imageUrl = (message?: string) => v.pipe(v.string(message), v.metadata({ format: 'uri' }));

/** `{"url": "https://…"}`: one image, fetched by the service. */
export const UrlBody = v.strictObject(
  { url: v.pipe(imageUrl('"url" must be a string'), v.description('an image URL on a FETCH_ALLOWED_HOSTS host')) },
  BODY_SHAPE,
);

/** `{"urls": [...]}`: a batch; an empty list is an empty body (400 empty-body), as an upload of no bytes is. */
export const UrlsBody = v.strictObject(
  {
    urls: v.pipe(
      v.array(imageUrl(URLS_TYPE), URLS_TYPE),
      v.minLength(1, '"urls" is empty'),
      v.description('at most MAX_BATCH image URLs, answered in order'),
    ),
  },
  BODY_SHAPE,
);

/** The JSON body's schema as the document shows it; the service validates with the option the body's key names. */
export const ImageUrlsBody = v.union([UrlBody, UrlsBody], BODY_SHAPE);
