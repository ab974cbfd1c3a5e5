// workerd (wrangler's CompiledWasm rule, vitest-pool-workers) hands an imported .wasm file over as a compiled module.
declare module '@jsquash/webp/codec/dec/webp_dec.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
