import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Manifest, ManifestModel } from '../manifest.js';

export const MANIFEST_FILE = 'manifest.json';

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as Manifest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Replaces entries with the same name, keeps the others, sorts by name; written atomically. */
export async function upsertManifest(dir: string, models: ManifestModel[]): Promise<Manifest> {
  const current = (await readManifest(dir)) ?? { version: 1, generated: '', models: [] };
  const byName = new Map(current.models.map((m) => [m.name, m]));
  for (const model of models) byName.set(model.name, model);
  const manifest: Manifest = {
    version: 1,
    generated: new Date().toISOString(),
    models: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true })),
  };
  await mkdir(dir, { recursive: true });
  const target = path.join(dir, MANIFEST_FILE);
  await writeFile(`${target}.tmp`, JSON.stringify(manifest, null, 2) + '\n');
  await rename(`${target}.tmp`, target);
  return manifest;
}
