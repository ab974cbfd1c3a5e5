/**
 * The training folder, ImageFolder-style: one sub-folder per label, its name the label, images inside. Read with
 * names as bytes so a folder name that is not UTF-8 is refused by name rather than silently mangled.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { labelProblem, MAX_HEAD_LABELS } from '../../../worker/core/manifest/head.js';
import { TrainError } from './errors.js';

export interface LabelledFile {
  /** Absolute path. */
  path: string;
  /** Index into the folder's labels. */
  label: number;
}

export interface ImageFolder {
  /** Sorted by code point: the head's output order. */
  labels: string[];
  files: LabelledFile[];
}

/** Files the trainer never tries to decode (hidden files, e.g. .DS_Store). */
const isHidden = (name: string) => name.startsWith('.');

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeName(raw: Buffer, where: string): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw new TrainError(
      'bad-label-name',
      `${where}: a label folder's name is not valid UTF-8 (${raw.toString('hex')})`,
    );
  }
}

export async function readImageFolder(dir: string, options: { minPerLabel?: number } = {}): Promise<ImageFolder> {
  const minPerLabel = options.minPerLabel ?? 2;
  let info;
  try {
    info = await stat(dir);
  } catch {
    throw new TrainError('no-images', `${dir}: no such folder`);
  }
  if (!info.isDirectory()) throw new TrainError('no-images', `${dir}: not a folder`);
  const entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
  const folders = entries.filter((e) => e.isDirectory() && !isHidden(e.name.toString('latin1')));
  const labels = folders.map((e) => decodeName(e.name, dir)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (labels.length === 0)
    throw new TrainError('no-images', `${dir}: no label folders (expected ${dir}/<label>/<image files>)`);
  if (labels.length === 1)
    throw new TrainError('too-few-labels', `${dir}: only one label (${labels[0]}); a classifier needs at least two`);
  if (labels.length > MAX_HEAD_LABELS)
    throw new TrainError(
      'too-many-labels',
      `${dir}: ${labels.length} labels; at most ${MAX_HEAD_LABELS} are supported`,
    );
  for (const label of labels) {
    const problem = labelProblem(label);
    if (problem) throw new TrainError('bad-label-name', `label ${JSON.stringify(label)} ${problem}`);
  }
  const files: LabelledFile[] = [];
  for (const [index, label] of labels.entries()) {
    const names = (await readdir(path.join(dir, label), { withFileTypes: true }))
      .filter((e) => !e.isDirectory() && !isHidden(e.name))
      .map((e) => e.name)
      .sort();
    for (const name of names) files.push({ path: path.join(dir, label, name), label: index });
  }
  checkCounts(labels, files, minPerLabel, dir);
  return { labels, files };
}

/** Every label has at least `minPerLabel` files (checked again after bad images are skipped). */
export function checkCounts(
  labels: readonly string[],
  files: readonly LabelledFile[],
  minPerLabel: number,
  dir: string,
) {
  const counts = labels.map((_, i) => files.filter((f) => f.label === i).length);
  const short = labels.filter((_, i) => counts[i] < minPerLabel);
  if (short.length > 0) {
    const list = short.map((label) => `${label} (${counts[labels.indexOf(label)]})`).join(', ');
    throw new TrainError(
      'too-few-images',
      `${dir}: each label needs at least ${minPerLabel} images (one to train on, one to validate); too few: ${list}`,
    );
  }
}
