/**
 * The WebAssembly the image decoders need, handed in by the host: workerd imports the `.wasm` files as precompiled
 * modules (wrangler's CompiledWasm rule), Node compiles them from the files (wasm-node.ts). A workerd entry imports
 * exactly these two files:
 *
 *   import jpeg from '../../../wasm/jpeg/jpeg.wasm';            // relative to worker/runtimes/workerd/
 *   import webp from '@jsquash/webp/codec/dec/webp_dec.wasm';
 *
 * PNG and GIF need none: they are decoded in TypeScript (PNG data inflated by the platform's DecompressionStream).
 */
export interface ImageWasmModules {
  /** wasm/jpeg/jpeg.wasm: libjpeg-turbo 2.1.5 with DCT-domain scaling (120 KB, built by wasm/jpeg/build.sh) */
  jpeg: WebAssembly.Module;
  /** @jsquash/webp/codec/dec/webp_dec.wasm (138 KB) */
  webp: WebAssembly.Module;
}
