/** What the page reads from the API (docs/api.md): only the fields it shows. */

export interface ModelInfo {
  name: string;
  id: string;
  variant: string;
  precision: string;
  default: boolean;
  source: { kind: string; note: string };
}

export interface ModelsBody {
  backend: string;
  default: string;
  models: ModelInfo[];
}

export interface Prediction {
  index: number;
  synset: string;
  label: string;
  score: number;
}

export interface ClassifyBody {
  model: string;
  predictions: Prediction[];
  timing: Record<string, number>;
  /** The 224×224 crop the model saw, a PNG data: URL (`include=input`). */
  input?: string;
}

export interface Problem {
  title: string;
  status: number;
  detail: string;
  code: string;
}

export type Result<T> = { ok: true; body: T } | { ok: false; problem: Problem };

/** A failure that is not one of the API's problems (network down, a proxy's HTML page) still gets a detail. */
async function read<T>(response: Response): Promise<Result<T>> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (response.ok && body !== undefined) return { ok: true, body: body as T };
  const problem = body as Partial<Problem> | undefined;
  return {
    ok: false,
    problem: {
      title: problem?.title ?? response.statusText ?? 'Request failed',
      status: response.status,
      detail: problem?.detail ?? (text.slice(0, 200) || `HTTP ${response.status}`),
      code: problem?.code ?? 'http-error',
    },
  };
}

async function request<T>(path: string, init: RequestInit, token: string): Promise<Result<T>> {
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  try {
    return await read<T>(await fetch(path, { ...init, headers }));
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, problem: { title: 'Network error', status: 0, detail, code: 'network-error' } };
  }
}

export const listModels = (token: string) => request<ModelsBody>('/v1/models', {}, token);

/**
 * Always sent as application/octet-stream: the service sniffs the format from the bytes, so a file that is not an
 * image gets the decoder's own explanation (415 unsupported-format) rather than a content-type complaint.
 */
export function classify(file: Blob, model: string, token: string): Promise<Result<ClassifyBody>> {
  const query = new URLSearchParams({ model, top_k: '5', include: 'input' });
  return request<ClassifyBody>(
    `/v1/classify?${query}`,
    { method: 'POST', body: file, headers: { 'content-type': 'application/octet-stream' } },
    token,
  );
}
