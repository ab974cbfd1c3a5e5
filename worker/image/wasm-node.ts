/** Node only: compiles the decoders' WebAssembly from the installed packages. workerd imports the files instead. */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { IMAGE_WASM_FILES, type ImageWasmModules } from './wasm.js';

const require = createRequire(import.meta.url);
// @cloudflare/workers-types declares WebAssembly.Module abstract, since workerd cannot compile; Node can.
const CompiledModule = WebAssembly.Module as unknown as new (bytes: Uint8Array) => WebAssembly.Module;

export async function loadImageWasmModules(): Promise<ImageWasmModules> {
  const compile = async (file: string) => new CompiledModule(await readFile(require.resolve(file)));
  const [jpeg, webp] = await Promise.all([compile(IMAGE_WASM_FILES.jpeg), compile(IMAGE_WASM_FILES.webp)]);
  return { jpeg, webp };
}
