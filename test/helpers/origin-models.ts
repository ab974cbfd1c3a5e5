/**
 * A Node build's model folder for the edge → origin tests: EfficientViT-M2 fp32 exported from a synthetic state dict
 * (test/helpers/synthetic.ts, BatchNorm statistics on two golden images). Written once per working tree and reused:
 * the content is deterministic, and the export takes a few seconds.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { IMAGENET_1K } from '../../models/imagenet-1k.js';
import { IMAGENET_PREPROCESSING, type Manifest } from '../../worker/core/manifest/manifest.js';
import { exportOnnx } from '../../models/toolchain/export/index.js';
import { goldenDir } from './golden.js';
import { syntheticStateDict } from './synthetic.js';

export const ORIGIN_TEST_MODEL = 'm2-fp32';
/** Bumped when what is written changes, so an old folder is rebuilt. */
const VERSION = '1';

function writeAtomically(file: string, bytes: Uint8Array | string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, bytes);
  renameSync(temporary, file);
}

export function writeOriginTestModels(dir: string): void {
  const stamp = path.join(dir, 'version');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === VERSION) return;
  mkdirSync(dir, { recursive: true });
  const images = 2;
  const golden = readFileSync(path.join(goldenDir, 'm0.input.f32'));
  const data = new Float32Array(golden.buffer.slice(golden.byteOffset, golden.byteOffset + images * 3 * 224 * 224 * 4));
  const stateDict = syntheticStateDict('m2', { seed: 2, calibration: { data, batch: images } });
  const onnx = exportOnnx(stateDict, 'm2', { graph: 'optimized' });
  const file = 'efficientvit_m2.fp32.onnx';
  writeAtomically(path.join(dir, file), onnx);
  writeAtomically(path.join(dir, 'imagenet-1k.labels.json'), JSON.stringify(IMAGENET_1K));
  const manifest: Manifest = {
    version: 1,
    generated: '2026-01-01T00:00:00.000Z',
    models: [
      {
        name: ORIGIN_TEST_MODEL,
        id: 'efficientvit_m2.fp32',
        variant: 'm2',
        precision: 'fp32',
        file,
        bytes: onnx.length,
        sha256: createHash('sha256').update(onnx).digest('hex'),
        source: { checkpoint: 'synthetic: test/helpers/synthetic.ts', sha256: '0'.repeat(64), format: 'pth' },
        input: { name: 'input', shape: ['N', 3, 224, 224], dtype: 'float32' },
        output: { name: 'logits', shape: ['N', 1000], dtype: 'float32' },
        preprocessing: IMAGENET_PREPROCESSING,
        labels: 'imagenet-1k',
        opset: 17,
        graph: 'optimized',
        verified: { onnxruntime: '1.30.0', backends: [] },
      },
    ],
  };
  writeAtomically(path.join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  writeAtomically(stamp, VERSION);
}
