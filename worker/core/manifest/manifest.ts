/**
 * `models/manifest.json`: what the toolchain built and verified. The services read only this (and the files it
 * names). Preprocessing ships beside each model, as timm ships its pretrained config beside the weights.
 */
import type { ManifestHead } from './head.js';

/** The six published EfficientViT sizes (build.py's EfficientViT_m0 … m5); models/efficientvit.ts holds each one's
 * architecture. */
export const VARIANTS = Object.freeze(['m0', 'm1', 'm2', 'm3', 'm4', 'm5'] as const);
export type Variant = (typeof VARIANTS)[number];

/** One class of a label set: its name, and ImageNet's synset id (a trained head's labels have none). */
export interface ClassLabel {
  synset?: string;
  label: string;
}

export const PRECISIONS = Object.freeze(['fp32', 'int8', 'fp16'] as const);
export type Precision = (typeof PRECISIONS)[number];

/** The manifest's name inside a model folder; model files and label sets sit beside it. */
export const MANIFEST_FILE = 'manifest.json';

/** Hex SHA-256, the manifest's integrity field: WebCrypto, so the toolchain and both runtimes compute it alike. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export interface Preprocessing {
  /** Short side resized to this with PIL-compatible bicubic (antialiased when shrinking), 8-bit rounding. */
  resizeShortSide: number;
  interpolation: 'bicubic';
  centerCrop: number;
  /** Pixel values /255, then (x - mean) / std per RGB channel; NCHW float32. */
  mean: [number, number, number];
  std: [number, number, number];
  colorSpace: 'RGB';
  layout: 'NCHW';
}

export interface ManifestModel {
  /** API name: 'm0' is M0's default (int8) build, 'm0-fp32' its float twin. */
  name: string;
  /** Stable model id shown in responses, e.g. 'efficientvit_m0.int8'. */
  id: string;
  variant: Variant;
  precision: Precision;
  /** File name relative to models/. */
  file: string;
  bytes: number;
  sha256: string;
  source: {
    /** URL or local path the checkpoint came from. */
    checkpoint: string;
    sha256: string;
    format: 'pth' | 'safetensors';
  };
  input: { name: string; shape: ['N', 3, number, number]; dtype: 'float32' };
  output: { name: string; shape: ['N', number]; dtype: 'float32' };
  /**
   * The second graph output: pooled features before the classifier head, unnormalised (the service L2-normalises).
   * Absent in builds from before it existed; those models still classify, and /v1/embed answers 501 for them.
   */
  embedding?: { name: string; shape: ['N', number]; dtype: 'float32' };
  preprocessing: Preprocessing;
  /** Label set id; labels live in models/<labels>.labels.json. */
  labels: string;
  opset: number;
  graph: 'optimized' | 'naive';
  verified: { onnxruntime: string; backends: string[]; notes?: Record<string, number | string> };
}

export interface Manifest {
  version: 1;
  generated: string;
  models: ManifestModel[];
  /** Trained heads served on a model of `models` (manifest/head.ts); absent: none. */
  heads?: ManifestHead[];
}

/**
 * Whether a model was built from the synthetic test fixtures (../shared/fixtures/checkpoints, named
 * `*.synthetic.*`): random weights whose predictions mean nothing, never to be deployed as the service.
 */
export function isSyntheticSource(source: ManifestModel['source']): boolean {
  return /synthetic/i.test(source.checkpoint);
}

export const IMAGENET_PREPROCESSING: Preprocessing = Object.freeze({
  resizeShortSide: 256,
  interpolation: 'bicubic',
  centerCrop: 224,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  colorSpace: 'RGB',
  layout: 'NCHW',
}) as Preprocessing;
