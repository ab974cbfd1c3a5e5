/**
 * Where the service reads `manifest.json`, the label files, the ONNX files it names and the demo page (`page/`). Injected so the app does not
 * care whether they come from a Static Assets binding (workerd) or the file system (Node).
 */
export interface ModelFiles {
  /** The file's bytes, or null when it does not exist. Other failures throw. */
  read(name: string): Promise<Uint8Array | null>;
}

import { isSafeModelPath } from '../../core/manifest/check.js';

/** Anything with a fetch() that serves the models folder by path: a Static Assets binding, or an HTTP origin. */
export interface FetchLike {
  fetch(input: string, init?: RequestInit): Promise<Response>;
}

/**
 * Reads models through a fetcher. The host part of the URL is ignored by an assets binding, which serves by path.
 */
export function createFetchModelFiles(fetcher: FetchLike, origin = 'https://models.invalid'): ModelFiles {
  return {
    async read(name) {
      if (!isSafeModelPath(name))
        throw new Error(`refusing to read ${JSON.stringify(name)}: not a plain relative path`);
      const response = await fetcher.fetch(`${origin}/${name}`);
      if (response.status === 404) {
        await response.body?.cancel();
        return null;
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`reading ${name} failed: HTTP ${response.status}`);
      }
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}
