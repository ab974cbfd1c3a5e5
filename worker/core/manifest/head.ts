/**
 * A trained classifier head: softmax regression on a base model's `embedding` output, with the user's own labels.
 * `npm run models -- train` writes `<name>.head.json` into every build folder whose manifest has the base model, and
 * lists it under the manifest's `heads`. The service serves it on its base model's session (no session of its own):
 * logits = W·e + b on the base's raw (unnormalised) embedding e, scores = softmax(logits / temperature).
 */

/** The head file's format tag; a reader refuses any other. */
export const HEAD_FORMAT = 'efficientvit-head/1';

/** Most labels a head may have: its weights are JSON (classes × dims numbers) read on the first request for it. */
export const MAX_HEAD_LABELS = 1000;

/** Longest label, in UTF-8 bytes: labels are shown in answers and on the demo page. */
export const MAX_LABEL_BYTES = 100;

/** `<name>.head.json`, beside its base model's file. */
export interface HeadFile {
  format: typeof HEAD_FORMAT;
  name: string;
  /** The base model's API name in the manifest (e.g. 'm0'), whose embedding the head was trained on. */
  base: string;
  /** Width of the base's embedding. */
  dims: number;
  classes: number;
  /** The label of each output, in output order (the training folders' names). */
  labels: string[];
  /** classes × dims, row-major, float32 values. */
  weights: number[];
  /** classes values. */
  bias: number[];
  /** Fitted on the validation split (calibration); the served scores are softmax(logits / temperature). */
  temperature: number;
}

/** The training run's summary, as the manifest lists it (the full report is `file`). */
export interface HeadReportSummary {
  /** `<name>.report.json` beside the head. */
  file: string;
  /**
   * Top-1 on images the head never trained on: the `--test` folder (the final head) when the run had one, else the
   * validation split (the head fitted on the rest, with the weight decay chosen there).
   */
  heldOutAccuracy: number;
  top5?: number;
  /** Expected calibration error of the served (temperature-scaled) scores, on the same images. */
  ece: number;
  /** Images trained on (all of them, after the refit). */
  images: number;
  labels: number;
}

/** A manifest's entry for a trained head. Names share the models' namespace. */
export interface ManifestHead {
  name: string;
  /** The base model's API name: the head runs on its session. */
  base: string;
  /** `<name>.head.json`. */
  file: string;
  bytes: number;
  sha256: string;
  /** Label set id: `<labels>.labels.json` ({label} entries, no synset). */
  labels: string;
  classes: number;
  dims: number;
  /** The base model file's sha256 the embeddings were computed with: a rebuilt base makes the head stale. */
  baseSha256?: string;
  report?: HeadReportSummary;
}

/** The head file name for a head name. */
export const headFileName = (name: string): string => `${name}.head.json`;

/** Whether a label is acceptable: non-empty, no control characters, at most MAX_LABEL_BYTES of UTF-8. */
export function labelProblem(label: string): string | undefined {
  if (label.length === 0) return 'is empty';
  if (label.includes('\uFFFD')) return 'is not valid UTF-8';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(label)) return 'contains control characters';
  if (new TextEncoder().encode(label).byteLength > MAX_LABEL_BYTES) return `is longer than ${MAX_LABEL_BYTES} bytes`;
  return undefined;
}
