/**
 * The InferenceBackend contract (test/core/inference/backend.cases.ts) inside workerd: onnxruntime-web with the wasm
 * module the Worker imports, models read through the Static Assets binding as the service reads them.
 */
import { env } from 'cloudflare:workers';
import { inject } from 'vitest';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import { createOrtWebBackend } from '../../../worker/core/inference/ort-web.js';
import { createFetchModelFiles } from '../../../worker/service/registry/model-files.js';
import { defineBackendSuite } from './backend.cases.js';
import { fixture, tinyModel } from '../../runtimes/workerd/helpers.js';

const files = createFetchModelFiles(env.MODELS);
const read = async (name: string) => {
  const bytes = await files.read(name);
  if (!bytes) throw new Error(`${name} is not among the test models`);
  return bytes;
};
const float32 = (bytes: Uint8Array) =>
  new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));

defineBackendSuite(() => ({
  name: 'onnxruntime-web (wasm) in workerd',
  backend: async () => createOrtWebBackend(ortWasm),
  tiny: async () => ({ ...tinyModel('tiny'), onnx: await read('tiny.onnx') }),
  golden: async () => {
    if (inject('goldenBuildErrors').m0) throw new Error(inject('goldenBuildErrors').m0);
    const input = float32(await fixture('shared/fixtures/golden/m0.input.f32'));
    const logits = float32(await fixture('shared/fixtures/golden/m0.logits.f32'));
    return {
      onnx: await read('efficientvit_m0.fp32.onnx'),
      input,
      dims: [input.length / (3 * 224 * 224), 3, 224, 224],
      logits,
    };
  },
}));
