/**
 * Node side: writes the model directory the conformance cases expect (never into models/, where a user's real models
 * live): the fp32 M0 and M1 exported by the project's own toolchain from the synthetic checkpoints the golden logits
 * were computed from, a tiny real classifier (cheap default model), and three broken entries that must answer 503.
 * Both runners' setups call it (test/runtimes/workerd/global-setup.ts, test/service/conformance/node.test.ts). The demo page is
 * built beside them, as `npm run build:page` does for the real build folders.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Manifest, ManifestModel, Variant } from '../../../worker/core/manifest/manifest.js';
import { IMAGENET_1K } from '../../../models/imagenet-1k.js';
import { readCheckpoint } from '../../../models/toolchain/checkpoint/index.js';
import { efficientVitLayout } from '../../../models/efficientvit.js';
import { exportOnnx } from '../../../models/toolchain/export/index.js';
import { referenceOutputs } from '../../../models/toolchain/reference.js';
import { testManifestEntry } from '../../helpers/manifest-entry.js';
import { buildTinyClassifier, type TinyClassifier } from '../../helpers/tiny-model.js';
import { CONFORMANCE_MODELS } from './target.js';
import { SOLID_COLOURS } from './test-data.js';
import sharp from 'sharp';
import { renderPage } from '../../../scripts/lib/page.js';
import { DOCS_DIR } from '../../../worker/service/routes/docs.js';
import { PAGE_FILE } from '../../../worker/service/routes/page.js';
import { renderDocs } from '../../../scripts/lib/docs-page.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const sharedRoot = path.resolve(repoRoot, '../shared');

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** fp32 EfficientViT from a synthetic checkpoint in ../shared, as `npm run models -- build` would export it. */
function efficientVit(variant: Variant, name: string, write: (file: string, bytes: Uint8Array) => void): ManifestModel {
  const checkpointFile = `efficientvit_${variant}.synthetic.pth`;
  const checkpointBytes = new Uint8Array(
    readFileSync(path.join(sharedRoot, 'fixtures', 'checkpoints', checkpointFile)),
  );
  const { stateDict } = readCheckpoint(checkpointBytes, checkpointFile);
  const onnx = exportOnnx(stateDict, variant, { graph: 'optimized' });
  const file = `efficientvit_${variant}.fp32.onnx`;
  write(file, onnx);
  return testManifestEntry({
    name,
    id: `efficientvit_${variant}.fp32`,
    variant,
    file,
    bytes: onnx.length,
    sha256: sha256(onnx),
    source: {
      checkpoint: `synthetic: ../shared/fixtures/checkpoints/${checkpointFile}`,
      sha256: sha256(checkpointBytes),
      format: 'pth',
    },
    graph: 'optimized',
    embedding: { name: 'embedding', shape: ['N', efficientVitLayout(variant).head.inFeatures], dtype: 'float32' },
  });
}

/** Golden images whose embeddings the cases compare (the float64 reference is slow: two are enough). */
export const EMBEDDING_GOLDEN_IMAGES = [0, 1] as const;

/**
 * The float64 reference's pooled features for EMBEDDING_GOLDEN_IMAGES of the golden input tensors (the official
 * preprocessing), L2-normalised: what /v1/embed must answer for those JPEGs, within JPEG-decoder rounding.
 */
export function referenceEmbeddings(variant: Variant): number[][] {
  const checkpointFile = `efficientvit_${variant}.synthetic.pth`;
  const bytes = new Uint8Array(readFileSync(path.join(sharedRoot, 'fixtures', 'checkpoints', checkpointFile)));
  const raw = readFileSync(path.join(sharedRoot, 'fixtures', 'golden', `${variant}.input.f32`));
  const all = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const plane = 3 * 224 * 224;
  const input = new Float32Array(EMBEDDING_GOLDEN_IMAGES.length * plane);
  EMBEDDING_GOLDEN_IMAGES.forEach((image, row) =>
    input.set(all.subarray(image * plane, (image + 1) * plane), row * plane),
  );
  const { embedding } = referenceOutputs(
    readCheckpoint(bytes, checkpointFile).stateDict,
    variant,
    input,
    EMBEDDING_GOLDEN_IMAGES.length,
  );
  const dims = embedding.length / EMBEDDING_GOLDEN_IMAGES.length;
  return EMBEDDING_GOLDEN_IMAGES.map((_, row) => {
    const v = Array.from(embedding.subarray(row * dims, (row + 1) * dims));
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

export interface ConformanceModels {
  manifest: Manifest;
  tiny: TinyClassifier;
  tiny10: TinyClassifier;
  /** Per golden variant, why its export failed (the other models are still written). */
  goldenBuildErrors: Record<string, string | undefined>;
}

type FileWriter = (file: string, bytes: Uint8Array | string) => void;

/**
 * Writes the conformance models into `directory` (created if needed). `write` replaces the plain file write, e.g. by
 * an atomic one where other test runs may be reading the same folder.
 */
export function writeConformanceModels(
  directory: string,
  write: FileWriter = (file, bytes) => writeFileSync(path.join(directory, file), bytes),
): ConformanceModels {
  mkdirSync(path.join(directory, path.dirname(PAGE_FILE)), { recursive: true });
  write(PAGE_FILE, renderPage());
  mkdirSync(path.join(directory, DOCS_DIR), { recursive: true });
  for (const [name, contents] of Object.entries(renderDocs())) write(`${DOCS_DIR}/${name}`, contents);
  write('imagenet-1k.labels.json', JSON.stringify(IMAGENET_1K));
  write(
    'ten.labels.json',
    JSON.stringify(Array.from({ length: 10 }, (_, i) => ({ synset: `s${i}`, label: `class ${i}` }))),
  );

  const tiny = buildTinyClassifier({ classes: 1000, seed: 1 });
  const tiny10 = buildTinyClassifier({ classes: 10, seed: 2 });
  const corrupt = new TextEncoder().encode('this is not an ONNX model');
  write('tiny.onnx', tiny.onnx);
  write('tiny-10.onnx', tiny10.onnx);
  write('corrupt.onnx', corrupt);

  const models: ManifestModel[] = [];
  // A broken exporter or checkpoint reader must fail the golden tests, not every test that needs the tiny models.
  const goldenBuildErrors: Record<string, string | undefined> = {};
  for (const variant of ['m0', 'm1'] as const) {
    try {
      models.push(efficientVit(variant, CONFORMANCE_MODELS[variant], write));
      goldenBuildErrors[variant] = undefined;
    } catch (error) {
      goldenBuildErrors[variant] = error instanceof Error ? (error.stack ?? error.message) : String(error);
    }
  }
  models.push(
    testManifestEntry({
      name: CONFORMANCE_MODELS.tiny,
      id: 'tiny_classifier.fp32',
      file: 'tiny.onnx',
      bytes: tiny.onnx.length,
      sha256: sha256(tiny.onnx),
    }),
    testManifestEntry(
      {
        name: 'tiny-10',
        id: 'tiny_classifier_10.fp32',
        file: 'tiny-10.onnx',
        bytes: tiny10.onnx.length,
        sha256: sha256(tiny10.onnx),
        labels: 'ten',
      },
      10,
    ),
    // Broken on purpose: each must answer 503 model-unavailable and leave the service serving.
    testManifestEntry({
      name: CONFORMANCE_MODELS.missing,
      id: 'tiny_missing.fp32',
      file: 'missing.onnx',
      bytes: 1,
      sha256: '0'.repeat(64),
    }),
    testManifestEntry({
      name: CONFORMANCE_MODELS.corrupt,
      id: 'tiny_corrupt.fp32',
      file: 'corrupt.onnx',
      bytes: corrupt.length,
      sha256: sha256(corrupt),
    }),
    testManifestEntry({
      name: CONFORMANCE_MODELS.tampered,
      id: 'tiny_tampered.fp32',
      file: 'tiny.onnx',
      bytes: tiny.onnx.length,
      sha256: 'f'.repeat(64),
    }),
  );
  // A fixed `generated` keeps the file deterministic: concurrent runs write identical bytes.
  const manifest: Manifest = { version: 1, generated: 'test/service/conformance/models.ts', models };
  write('manifest.json', JSON.stringify(manifest, null, 2));
  return { manifest, tiny, tiny10, goldenBuildErrors };
}

/** The solid-colour images of test-data.ts, as `<name>.png|webp|gif|jpg`, through `write` (file name, bytes). */
export async function writeSolidColourImages(write: (file: string, bytes: Uint8Array) => void): Promise<void> {
  for (const { name, rgb, width, height } of SOLID_COLOURS) {
    const image = () =>
      sharp({ create: { width, height, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });
    const encodings = {
      png: image().png(),
      webp: image().webp({ lossless: true }),
      gif: image().gif(),
      jpg: image().jpeg({ quality: 90 }),
    };
    for (const [extension, encoded] of Object.entries(encodings)) {
      write(`${name}.${extension}`, new Uint8Array(await encoded.toBuffer()));
    }
  }
}
