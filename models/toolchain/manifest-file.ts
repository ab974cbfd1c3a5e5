import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { checkManifest } from '../../worker/core/manifest/check.js';
import { MANIFEST_FILE, type Manifest, type ManifestModel } from '../../worker/core/manifest/manifest.js';
import type { ManifestHead } from '../../worker/core/manifest/head.js';

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // Checked as the services check it: a hand-edited or half-written manifest is named, not trusted.
  try {
    return checkManifest(JSON.parse(text));
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
}

const byNumericName = (a: { name: string }, b: { name: string }) =>
  a.name.localeCompare(b.name, 'en', { numeric: true });

/** Replaces entries with the same name, keeps the others (and the trained heads), sorts by name; written atomically. */
export async function upsertManifest(dir: string, models: ManifestModel[]): Promise<Manifest> {
  const current = (await readManifest(dir)) ?? { version: 1, generated: '', models: [] };
  const byName = new Map(current.models.map((m) => [m.name, m]));
  for (const model of models) byName.set(model.name, model);
  return writeManifest(dir, {
    version: 1,
    generated: new Date().toISOString(),
    models: [...byName.values()].sort(byNumericName),
    ...(current.heads ? { heads: current.heads } : {}),
  });
}

/** Adds a trained head to the manifest (replacing one of the same name); written atomically. */
export async function upsertHead(dir: string, head: ManifestHead): Promise<Manifest> {
  const current = await readManifest(dir);
  if (!current) throw new Error(`${path.join(dir, MANIFEST_FILE)} not found`);
  const heads = [...(current.heads ?? []).filter((h) => h.name !== head.name), head].sort(byNumericName);
  return writeManifest(dir, { ...current, generated: new Date().toISOString(), heads });
}

async function writeManifest(dir: string, manifest: Manifest): Promise<Manifest> {
  // Checked before it replaces the old one: a head naming a missing base must not break every model.
  checkManifest(JSON.parse(JSON.stringify(manifest)));
  await mkdir(dir, { recursive: true });
  const target = path.join(dir, MANIFEST_FILE);
  await writeFile(`${target}.tmp`, `${JSON.stringify(manifest, null, 2)}\n`);
  await rename(`${target}.tmp`, target);
  return manifest;
}
