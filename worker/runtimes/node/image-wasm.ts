/** Node only: compiles the decoders' WebAssembly from disk. workerd imports the files instead (see wasm.ts). */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { loadJpegWasmModule } from '../../../wasm/jpeg/node.js';
import type { ImageWasmModules } from '../../core/image/wasm.js';

const require = createRequire(import.meta.url);
// @cloudflare/workers-types declares WebAssembly.Module abstract, since workerd cannot compile; Node can.
const CompiledModule = WebAssembly.Module as unknown as new (bytes: Uint8Array) => WebAssembly.Module;

export async function loadImageWasmModules(): Promise<ImageWasmModules> {
  const loadWebp = async () =>
    new CompiledModule(await readFile(require.resolve('@jsquash/webp/codec/dec/webp_dec.wasm')));
  const [jpeg, webp] = await Promise.all([loadJpegWasmModule(), loadWebp()]);
  return { jpeg, webp };
}
