/**
 * A typed client for the HTTP API (docs/api.md): fetch only, no dependencies, so it runs in browsers, Node and other
 * Workers alike (a Worker may pass a service binding's fetch).
 */
import type { BatchResult, ClassifyResult, ModelsResult, Problem } from './types.js';

export type * from './types.js';

export type ImageInput = Blob | Uint8Array | ArrayBuffer;

export interface ClientOptions {
  /** e.g. 'https://vit.example.com'; paths are appended to it ('' with a `fetch` that adds the origin itself). */
  baseUrl: string;
  /** Sent as a bearer token (services with API_TOKEN set). */
  token?: string;
  /** Default: the global fetch. */
  fetch?: (url: string, init?: RequestInit) => Promise<Response>;
}

export interface ClassifyOptions {
  /** A model name from models(); default: the service's default. */
  model?: string;
  topK?: number;
  /** 'input': each result also carries the crop the model saw. */
  include?: 'input'[];
  signal?: AbortSignal;
  /** Extra request headers, e.g. `Cache-Control: no-store` to bypass the result cache. */
  headers?: Record<string, string>;
}

/** What a non-2xx answer carried: the service's problem, or one made up from a body that was not problem+json. */
export type ReceivedProblem =
  | Problem
  | (Omit<Problem, 'code' | 'type' | 'title' | 'status' | 'detail'> & {
      type: string;
      title: string;
      status: number;
      detail: string;
      code?: undefined;
    });

/** A non-2xx answer, with its problem (RFC 9457); a body that was not problem+json gets a problem without `code`. */
export class ApiProblemError extends Error {
  readonly problem: ReceivedProblem;
  readonly status: number;
  readonly code: Problem['code'] | undefined;
  readonly type: string;
  readonly detail: string;

  constructor(problem: ReceivedProblem) {
    super(`${problem.status} ${problem.code ?? problem.title}: ${problem.detail}`);
    this.name = 'ApiProblemError';
    this.problem = problem;
    this.status = problem.status;
    this.code = problem.code;
    this.type = problem.type;
    this.detail = problem.detail;
  }
}

export interface Client {
  classify(image: ImageInput, options?: ClassifyOptions): Promise<ClassifyResult>;
  /** Answered in order; an image that fails has `error` in its slot (the request still succeeds). */
  classifyBatch(
    images: (ImageInput | { image: ImageInput; filename: string })[],
    options?: ClassifyOptions,
  ): Promise<BatchResult>;
  /** The service fetches the image(s); one URL answers a ClassifyResult, an array a BatchResult. */
  classifyUrl(url: string, options?: ClassifyOptions): Promise<ClassifyResult>;
  classifyUrl(urls: string[], options?: ClassifyOptions): Promise<BatchResult>;
  models(options?: { signal?: AbortSignal }): Promise<ModelsResult>;
}

function toBlob(image: ImageInput): Blob {
  // Copied into a plain ArrayBuffer-backed view: a Uint8Array over a SharedArrayBuffer is no BlobPart.
  return image instanceof Blob ? image : new Blob([image instanceof ArrayBuffer ? image : new Uint8Array(image)]);
}

function query({ model, topK, include }: ClassifyOptions): string {
  const params = new URLSearchParams();
  if (model !== undefined) params.set('model', model);
  if (topK !== undefined) params.set('top_k', String(topK));
  if (include?.length) params.set('include', include.join(','));
  const text = params.toString();
  return text ? `?${text}` : '';
}

async function problemOf(response: Response): Promise<ApiProblemError> {
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  if (contentType.startsWith('application/problem+json')) {
    try {
      return new ApiProblemError(JSON.parse(text) as Problem);
    } catch {
      // Not JSON after all: described below like any other body.
    }
  }
  return new ApiProblemError({
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    detail: text.slice(0, 500),
  });
}

export function createClient({ baseUrl, token, fetch: send = (url, init) => fetch(url, init) }: ClientOptions): Client {
  const base = baseUrl.replace(/\/+$/, '');
  async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers);
    if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
    const response = await send(base + path, { ...init, headers });
    if (!response.ok) throw await problemOf(response);
    return (await response.json()) as T;
  }
  const classifyPath = (options: ClassifyOptions) => `/v1/classify${query(options)}`;

  return {
    classify(image, options = {}) {
      const body = toBlob(image);
      return call(classifyPath(options), {
        method: 'POST',
        body,
        headers: { ...options.headers, 'content-type': body.type || 'application/octet-stream' },
        signal: options.signal,
      });
    },
    classifyBatch(images, options = {}) {
      const form = new FormData();
      images.forEach((entry, index) => {
        const named =
          typeof entry === 'object' && 'image' in entry ? entry : { image: entry, filename: `image-${index}` };
        form.append('image', toBlob(named.image), named.filename);
      });
      return call(classifyPath(options), {
        method: 'POST',
        body: form,
        headers: options.headers,
        signal: options.signal,
      });
    },
    classifyUrl(urls: string | string[], options: ClassifyOptions = {}) {
      return call(classifyPath(options), {
        method: 'POST',
        body: JSON.stringify(typeof urls === 'string' ? { url: urls } : { urls }),
        headers: { ...options.headers, 'content-type': 'application/json' },
        signal: options.signal,
      });
    },
    models(options = {}) {
      return call('/v1/models', { signal: options.signal });
    },
  } as Client;
}
