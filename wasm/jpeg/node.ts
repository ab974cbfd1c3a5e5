/** Node only: compiles jpeg.wasm from disk. workerd imports the file and gets it precompiled. */
import { readFile } from 'node:fs/promises';

export const JPEG_WASM_URL = new URL('./jpeg.wasm', import.meta.url);

// @cloudflare/workers-types declares WebAssembly.Module abstract, since workerd cannot compile; Node can.
const CompiledModule = WebAssembly.Module as unknown as new (bytes: Uint8Array) => WebAssembly.Module;

export async function loadJpegWasmModule(): Promise<WebAssembly.Module> {
  return new CompiledModule(await readFile(JPEG_WASM_URL));
}
