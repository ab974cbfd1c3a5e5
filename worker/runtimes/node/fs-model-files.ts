/** Node only: reads manifest.json, label files and model files from a directory (the Worker reads them over fetch). */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isSafeModelPath } from '../../core/manifest/check.js';
import type { ModelFiles } from '../../service/registry/model-files.js';

export function createFsModelFiles(directory: string): ModelFiles {
  const root = path.resolve(directory);
  return {
    async read(name) {
      // The manifest is data: a name that could leave the directory is refused, never resolved.
      if (!isSafeModelPath(name))
        throw new Error(`refusing to read ${JSON.stringify(name)}: not a plain relative path`);
      try {
        return new Uint8Array(await readFile(path.join(root, name)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw error;
      }
    },
  };
}
