// workerd (wrangler's CompiledWasm rule, vitest-pool-workers) hands an imported .wasm file over as a compiled module.
declare module '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
declare module '@jsquash/webp/codec/dec/webp_dec.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
