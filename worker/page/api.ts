/** What the page asks the API (docs/api.md), through the typed client: an answer, or a problem to show. */
import { ApiProblemError, type ClassifyResult, createClient, type ModelsResult } from '../client/index.js';

export type { ClassifyResult, ModelsResult };

/** What the page shows of a failure: the API's problem, or one made up for a network error. */
export interface Shown {
  title: string;
  status: number;
  detail: string;
  code: string;
}

export type Result<T> = { ok: true; body: T } | { ok: false; problem: Shown };

/** The page's own origin; the token typed into the page, if any. */
const client = (token: string) => createClient({ baseUrl: '', ...(token ? { token } : {}) });

async function settle<T>(call: Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, body: await call };
  } catch (error) {
    if (error instanceof ApiProblemError) {
      const { title, status, detail, code } = error.problem;
      return { ok: false, problem: { title, status, detail, code: code ?? 'http-error' } };
    }
    // A failure that is not one of the API's problems (network down) still gets a detail.
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, problem: { title: 'Network error', status: 0, detail, code: 'network-error' } };
  }
}

export const listModels = (token: string) => settle(client(token).models());

/**
 * Always sent as application/octet-stream: the service sniffs the format from the bytes, so a file that is not an
 * image gets the decoder's own explanation (415 unsupported-format) rather than a content-type complaint.
 */
export function classify(file: Blob, model: string, token: string): Promise<Result<ClassifyResult>> {
  const bytes = new Blob([file], { type: 'application/octet-stream' });
  return settle(client(token).classify(bytes, { model, topK: 5, include: ['input'] }));
}
