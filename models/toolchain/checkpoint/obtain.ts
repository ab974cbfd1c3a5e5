import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { sha256Hex, type Variant } from '../../../worker/core/manifest/manifest.js';
import { findLocalCheckpoint, OFFICIAL_CHECKPOINT_URLS } from './sources.js';
import { downloadFile } from '../download.js';

export interface ObtainedCheckpoint {
  /** Where the bytes came from: the local path, or the release URL (also when served from the download cache). */
  source: string;
  bytes: Uint8Array;
  sha256: string;
}

export interface ObtainOptions {
  /** A directory of local checkpoints (`--checkpoints` / EFFICIENTVIT_CHECKPOINTS); no download when given. */
  checkpointsDir?: string;
  /** Where downloads are kept between runs. */
  cacheDir: string;
  onProgress?: (received: number, total: number | undefined) => void;
  /** Where each variant's checkpoint is downloaded from; default the official release (tests use a local server). */
  checkpointUrl?: (variant: Variant) => string;
}

/** The file a download of `url` is cached as. */
export function cachedCheckpointPath(cacheDir: string, url: string): string {
  return path.join(cacheDir, path.basename(new URL(url).pathname));
}

export const officialCheckpointUrl = (variant: Variant): string => OFFICIAL_CHECKPOINT_URLS[variant];

export class MissingCheckpointError extends Error {
  readonly code = 'missing-checkpoint';
}

/** A local file when a directory is given, else the official release asset (downloaded once, then cached). */
export async function obtainCheckpoint(variant: Variant, options: ObtainOptions): Promise<ObtainedCheckpoint> {
  if (options.checkpointsDir) {
    const file = findLocalCheckpoint(options.checkpointsDir, variant);
    if (!file) {
      throw new MissingCheckpointError(
        `no checkpoint for ${variant} in ${options.checkpointsDir} (expected efficientvit_${variant}.pth, ` +
          `efficientvit_${variant}.*.pth or efficientvit_${variant}*.safetensors)`,
      );
    }
    const bytes = new Uint8Array(await readFile(file));
    return { source: path.resolve(file), bytes, sha256: await sha256Hex(bytes) };
  }
  const url = (options.checkpointUrl ?? officialCheckpointUrl)(variant);
  const cached = cachedCheckpointPath(options.cacheDir, url);
  if (!(await isFile(cached))) await downloadFile(url, cached, { onProgress: options.onProgress });
  const bytes = new Uint8Array(await readFile(cached));
  return { source: url, bytes, sha256: await sha256Hex(bytes) };
}

export async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}
