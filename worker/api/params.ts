/**
 * The query parameters the image operations share, as valibot schemas: the service validates with them
 * (worker/service/http/validate.ts) and /openapi.json lists them from the same objects (openapi.ts). Each failure's
 * message is the 400 bad-parameter problem's detail.
 */
import * as v from 'valibot';

export const DEFAULT_TOP_K = 5;
export const MAX_TOP_K = 1000;

/** What `include` may ask to add to each result (docs/api.md). */
export const INCLUDE_VALUES = ['input'] as const;
export type Include = (typeof INCLUDE_VALUES)[number];

/** A rejected value as a detail quotes it: JSON-escaped, at most 32 characters. */
export const shown = (input: unknown) => JSON.stringify(String(input).slice(0, 32));

/** `model`: an API name; absent, the configured default (the handler's, so no schema default). */
export const modelParam = v.optional(
  v.pipe(
    v.string(),
    v.regex(/\S/, 'model must not be empty'),
    v.description('a model name from /v1/models; default: the configured DEFAULT_MODEL'),
  ),
);

/** `top_k`: digits only (no sign, point or exponent), then the range. */
export const topKParam = v.optional(
  v.pipe(
    v.string(),
    v.regex(/^[0-9]+$/, (issue) => `top_k must be an integer from 1 to ${MAX_TOP_K}, got ${shown(issue.input)}`),
    v.toNumber(),
    v.number(),
    v.integer(),
    v.minValue(1, (issue) => `top_k must be from 1 to ${MAX_TOP_K}, got ${issue.input}`),
    v.maxValue(MAX_TOP_K, (issue) => `top_k must be from 1 to ${MAX_TOP_K}, got ${issue.input}`),
    v.description("how many predictions, at most the model's class count"),
  ),
  String(DEFAULT_TOP_K),
);

/** `include`: comma-separated, each one of INCLUDE_VALUES (OpenAPI: an array, style form, explode false). */
export const includeParam = v.optional(
  v.pipe(
    v.string(),
    v.transform((raw) => raw.split(',')),
    v.array(
      v.picklist(
        INCLUDE_VALUES,
        (issue) => `include takes a comma-separated list of ${INCLUDE_VALUES.join(', ')}, got ${shown(issue.input)}`,
      ),
    ),
    v.description('comma-separated extras per image; input: the crop the model saw as a PNG data: URL'),
  ),
);

/** `fallback`: which edge models exist only the running service knows, so it checks the name. */
export const fallbackParam = v.optional(
  v.pipe(
    v.string(),
    v.description('an origin model: an edge model that answers if the origin fails (none: never), or ORIGIN_FALLBACK'),
  ),
);
