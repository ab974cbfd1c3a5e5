import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { IMAGENET_1K } from '../imagenet-1k.js';

export interface LabelledImage {
  file: string;
  /** Class index in model-output order. */
  label: number;
}

const IMAGE_EXTENSIONS = /\.(jpe?g|png|webp|gif)$/i;
const SYNSET_INDEX = new Map(IMAGENET_1K.map((c, i) => [c.synset, i]));

/**
 * A labelled image set, in one of the two layouts people keep ImageNet in:
 * - a folder per synset (`DIR/n01440764/*.JPEG`, torchvision ImageFolder / the official `val/` layout);
 * - a labels file beside the images (`--labels FILE`): tab/space/comma separated, first column the file name, and
 *   a column holding either the class index or the synset (a header row is skipped).
 */
export async function listLabelledImages(dir: string, labelsFile?: string): Promise<LabelledImage[]> {
  if (labelsFile) return fromLabelsFile(dir, labelsFile);
  const entries = await readdir(dir, { withFileTypes: true });
  const synsetDirs = entries.filter((e) => e.isDirectory() && SYNSET_INDEX.has(e.name));
  if (synsetDirs.length === 0) {
    throw new Error(`${dir}: no synset folders (n01440764/ …); pass --labels FILE for a flat folder of images`);
  }
  const images: LabelledImage[] = [];
  for (const synsetDir of synsetDirs.sort((a, b) => a.name.localeCompare(b.name))) {
    const label = SYNSET_INDEX.get(synsetDir.name)!;
    const files = (await readdir(path.join(dir, synsetDir.name))).filter((f) => IMAGE_EXTENSIONS.test(f)).sort();
    for (const f of files) images.push({ file: path.join(dir, synsetDir.name, f), label });
  }
  return images;
}

async function fromLabelsFile(dir: string, labelsFile: string): Promise<LabelledImage[]> {
  const lines = (await readFile(labelsFile, 'utf8')).split(/\r?\n/).filter((l) => l.trim() !== '');
  const images: LabelledImage[] = [];
  for (const [lineNo, line] of lines.entries()) {
    const columns = line.split(/\t|,|\s+/).map((c) => c.trim());
    if (!IMAGE_EXTENSIONS.test(columns[0])) {
      if (lineNo === 0) continue; // header
      throw new Error(`${labelsFile}:${lineNo + 1}: first column is not an image file name`);
    }
    const label = labelFromColumns(columns.slice(1));
    if (label === undefined) throw new Error(`${labelsFile}:${lineNo + 1}: no class index (0–999) or synset found`);
    images.push({ file: path.join(dir, columns[0]), label });
  }
  return images;
}

function labelFromColumns(columns: string[]): number | undefined {
  for (const column of columns) {
    const bySynset = SYNSET_INDEX.get(column);
    if (bySynset !== undefined) return bySynset;
  }
  for (const column of columns) {
    if (/^\d+$/.test(column) && Number(column) < IMAGENET_1K.length) return Number(column);
  }
  return undefined;
}
