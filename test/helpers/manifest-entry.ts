import { IMAGENET_PREPROCESSING, type ManifestModel } from '../../worker/core/manifest/manifest.js';

/** A manifest entry for a test model; fields not given describe a synthetic fp32 classifier. */
export function testManifestEntry(
  fields: Partial<ManifestModel> & Pick<ManifestModel, 'name' | 'id' | 'file' | 'bytes' | 'sha256'>,
  classes = 1000,
): ManifestModel {
  return {
    variant: 'm0',
    precision: 'fp32',
    source: {
      checkpoint: 'synthetic: test/helpers/tiny-model.ts (seeded, not a real checkpoint)',
      sha256: '0'.repeat(64),
      format: 'safetensors',
    },
    input: { name: 'input', shape: ['N', 3, 224, 224], dtype: 'float32' },
    output: { name: 'logits', shape: ['N', classes], dtype: 'float32' },
    preprocessing: IMAGENET_PREPROCESSING,
    labels: 'imagenet-1k',
    opset: 17,
    graph: 'naive',
    verified: { onnxruntime: '1.30.0', backends: [] },
    ...fields,
  };
}
