/**
 * The WebAssembly the image decoders need, handed in by the host: workerd imports the `.wasm` files as precompiled
 * modules (wrangler's CompiledWasm rule), Node compiles them from the package files (wasm-node.ts). A workerd entry
 * imports exactly these two files:
 *
 *   import jpeg from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm';
 *   import webp from '@jsquash/webp/codec/dec/webp_dec.wasm';
 *
 * PNG and GIF need none: they are decoded in TypeScript (PNG data inflated by the platform's DecompressionStream).
 */
export interface ImageWasmModules {
  /** @jsquash/jpeg/codec/dec/mozjpeg_dec.wasm (166 KB) */
  jpeg: WebAssembly.Module;
  /** @jsquash/webp/codec/dec/webp_dec.wasm (138 KB) */
  webp: WebAssembly.Module;
}

/** Package-relative paths of the files, for hosts that load them themselves. */
export const IMAGE_WASM_FILES: Readonly<Record<keyof ImageWasmModules, string>> = Object.freeze({
  jpeg: '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm',
  webp: '@jsquash/webp/codec/dec/webp_dec.wasm',
});
