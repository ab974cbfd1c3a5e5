import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { InferenceBackend } from '../../../core/inference/backend.js';
import { createOrtWebBackend } from '../../../core/inference/ort-web.js';

/** onnxruntime-web's wasm backend in Node (benchmarks, toolchain checks): the runtime is read from the package. */
export async function createOrtWebBackendForNode(): Promise<InferenceBackend> {
  const wasmFile = createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm');
  return createOrtWebBackend(new Uint8Array(await readFile(wasmFile)));
}
