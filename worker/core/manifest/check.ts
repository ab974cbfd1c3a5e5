/**
 * Checks a parsed `manifest.json` and a label file before the service trusts them: a manifest is data that ships
 * beside the code, and a wrong field must surface as "model unavailable", not as a crash mid-request.
 */
import { type ClassLabel, PRECISIONS, VARIANTS, type Manifest, type ManifestModel } from './manifest.js';
import { HEAD_FORMAT, type HeadFile, labelProblem, MAX_HEAD_LABELS, type ManifestHead } from './head.js';

export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

const KNOWN_VARIANTS: ReadonlySet<string> = new Set(VARIANTS);
const KNOWN_PRECISIONS: ReadonlySet<string> = new Set(PRECISIONS);

/** A relative path of plain segments: no '..', no absolute paths, no query or fragment characters. */
const SAFE_PATH = /^(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

export function isSafeModelPath(name: string): boolean {
  return SAFE_PATH.test(name);
}
const MODEL_NAME = /^[a-z0-9][a-z0-9._-]*$/;
const SHA256 = /^[0-9a-f]{64}$/;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isPositiveInteger = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value > 0;
const isTriple = (value: unknown): value is [number, number, number] =>
  Array.isArray(value) && value.length === 3 && value.every((x) => typeof x === 'number' && Number.isFinite(x));

function checkModel(model: unknown, index: number): ManifestModel {
  const fail = (what: string): never => {
    const name = isRecord(model) && typeof model.name === 'string' ? ` (${model.name})` : '';
    throw new ManifestError(`manifest models[${index}]${name}: ${what}`);
  };
  if (!isRecord(model)) return fail('not an object');
  if (typeof model.name !== 'string' || !MODEL_NAME.test(model.name)) fail('name must match [a-z0-9][a-z0-9._-]*');
  if (typeof model.id !== 'string' || model.id === '') fail('id must be a non-empty string');
  if (typeof model.variant !== 'string' || !KNOWN_VARIANTS.has(model.variant)) fail('variant must be m0..m5');
  if (typeof model.precision !== 'string' || !KNOWN_PRECISIONS.has(model.precision))
    fail('precision must be fp32, int8 or fp16');
  if (typeof model.file !== 'string' || !isSafeModelPath(model.file)) fail('file must be a plain relative path');
  if (!isPositiveInteger(model.bytes)) fail('bytes must be a positive integer');
  if (typeof model.sha256 !== 'string' || !SHA256.test(model.sha256)) fail('sha256 must be 64 lowercase hex digits');
  if (!isRecord(model.source) || typeof model.source.checkpoint !== 'string') fail('source.checkpoint is missing');
  if (typeof model.labels !== 'string' || !isSafeModelPath(`${model.labels}.labels.json`))
    fail('labels must be a plain id');

  const input = model.input;
  if (!isRecord(input) || !Array.isArray(input.shape) || input.shape.length !== 4 || input.shape[1] !== 3) {
    fail('input.shape must be [N, 3, H, W]');
  }
  const [, , height, width] = (input as { shape: unknown[] }).shape;
  if (!isPositiveInteger(height) || !isPositiveInteger(width)) fail('input height and width must be positive integers');
  const output = model.output;
  if (
    !isRecord(output) ||
    !Array.isArray(output.shape) ||
    output.shape.length !== 2 ||
    !isPositiveInteger(output.shape[1])
  ) {
    fail('output.shape must be [N, classes]');
  }
  const embedding = model.embedding;
  if (
    embedding !== undefined &&
    (!isRecord(embedding) ||
      typeof embedding.name !== 'string' ||
      !Array.isArray(embedding.shape) ||
      embedding.shape.length !== 2 ||
      !isPositiveInteger(embedding.shape[1]))
  ) {
    fail('embedding must be {name, shape: [N, dims]}');
  }

  const pre = model.preprocessing;
  if (!isRecord(pre)) return fail('preprocessing is missing');
  if (!isPositiveInteger(pre.resizeShortSide) || !isPositiveInteger(pre.centerCrop)) {
    fail('preprocessing.resizeShortSide and centerCrop must be positive integers');
  }
  if (pre.centerCrop !== height || pre.centerCrop !== width) fail('preprocessing.centerCrop must equal the input size');
  if ((pre.resizeShortSide as number) < (pre.centerCrop as number)) fail('preprocessing.resizeShortSide < centerCrop');
  if (!isTriple(pre.mean) || !isTriple(pre.std) || pre.std.some((s) => s <= 0))
    fail('preprocessing mean/std must be 3 numbers');
  return model as unknown as ManifestModel;
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

function checkHead(head: unknown, index: number, models: readonly ManifestModel[]): ManifestHead {
  const fail = (what: string): never => {
    const name = isRecord(head) && typeof head.name === 'string' ? ` (${head.name})` : '';
    throw new ManifestError(`manifest heads[${index}]${name}: ${what}`);
  };
  if (!isRecord(head)) return fail('not an object');
  if (typeof head.name !== 'string' || !MODEL_NAME.test(head.name)) fail('name must match [a-z0-9][a-z0-9._-]*');
  if (typeof head.file !== 'string' || !isSafeModelPath(head.file)) fail('file must be a plain relative path');
  if (!isPositiveInteger(head.bytes)) fail('bytes must be a positive integer');
  if (typeof head.sha256 !== 'string' || !SHA256.test(head.sha256)) fail('sha256 must be 64 lowercase hex digits');
  if (typeof head.labels !== 'string' || !isSafeModelPath(`${head.labels}.labels.json`))
    fail('labels must be a plain id');
  if (!isPositiveInteger(head.classes) || head.classes < 2 || head.classes > MAX_HEAD_LABELS)
    fail(`classes must be an integer from 2 to ${MAX_HEAD_LABELS}`);
  if (!isPositiveInteger(head.dims)) fail('dims must be a positive integer');
  const base = models.find((model) => model.name === head.base);
  if (!base) return fail(`base ${JSON.stringify(head.base)} is not a model of this manifest`);
  if (base.embedding?.shape[1] !== head.dims) fail(`dims must equal base ${base.name}'s embedding width`);
  if (head.baseSha256 !== undefined && (typeof head.baseSha256 !== 'string' || !SHA256.test(head.baseSha256)))
    fail('baseSha256 must be 64 lowercase hex digits');
  return head as unknown as ManifestHead;
}

export function checkManifest(json: unknown): Manifest {
  if (!isRecord(json)) throw new ManifestError('manifest is not a JSON object');
  if (json.version !== 1)
    throw new ManifestError(`manifest version ${JSON.stringify(json.version)} is not supported (expected 1)`);
  if (!Array.isArray(json.models)) throw new ManifestError('manifest has no models array');
  const models = json.models.map(checkModel);
  if (json.heads !== undefined && !Array.isArray(json.heads))
    throw new ManifestError('manifest heads must be an array');
  const heads = ((json.heads ?? []) as unknown[]).map((head, index) => checkHead(head, index, models));
  // Heads and models share one namespace: ?model= names either.
  const seen = new Set<string>();
  for (const { name } of [...models, ...heads]) {
    if (seen.has(name)) throw new ManifestError(`manifest names model ${name} twice`);
    seen.add(name);
  }
  return { ...(json as unknown as Manifest), models, ...(json.heads !== undefined ? { heads } : {}) };
}

/** A head file checked against its manifest entry: format, shapes, finite numbers, labels. */
export function checkHeadFile(
  json: unknown,
  entry: Pick<ManifestHead, 'name' | 'base' | 'classes' | 'dims'>,
): HeadFile {
  const fail = (what: string): never => {
    throw new ManifestError(`head ${entry.name}: ${what}`);
  };
  if (!isRecord(json)) return fail('not a JSON object');
  if (json.format !== HEAD_FORMAT) fail(`format must be ${HEAD_FORMAT}`);
  if (json.name !== entry.name) fail(`name ${JSON.stringify(json.name)} does not match the manifest`);
  if (json.base !== entry.base) fail(`base ${JSON.stringify(json.base)} does not match the manifest`);
  if (json.classes !== entry.classes || json.dims !== entry.dims) fail('classes or dims do not match the manifest');
  const { classes, dims } = entry;
  if (!Array.isArray(json.labels) || json.labels.length !== classes) fail(`labels must be ${classes} strings`);
  (json.labels as unknown[]).forEach((label, index) => {
    const problem = typeof label === 'string' ? labelProblem(label) : 'is not a string';
    if (problem) fail(`label ${index} ${problem}`);
  });
  if (new Set(json.labels as string[]).size !== classes) fail('labels must be distinct');
  if (!Array.isArray(json.weights) || json.weights.length !== classes * dims || !json.weights.every(isFiniteNumber))
    fail(`weights must be ${classes}×${dims} finite numbers`);
  if (!Array.isArray(json.bias) || json.bias.length !== classes || !json.bias.every(isFiniteNumber))
    fail(`bias must be ${classes} finite numbers`);
  if (!isFiniteNumber(json.temperature) || json.temperature <= 0) fail('temperature must be a positive number');
  return json as unknown as HeadFile;
}

export function checkLabels(json: unknown, classes: number, labelsId: string): ClassLabel[] {
  if (!Array.isArray(json) || json.length !== classes) {
    throw new ManifestError(`labels ${labelsId}: expected an array of ${classes} entries`);
  }
  json.forEach((entry, index) => {
    if (
      !isRecord(entry) ||
      typeof entry.label !== 'string' ||
      (entry.synset !== undefined && typeof entry.synset !== 'string')
    ) {
      throw new ManifestError(`labels ${labelsId}[${index}]: expected {label, synset?} strings`);
    }
  });
  return json as ClassLabel[];
}
