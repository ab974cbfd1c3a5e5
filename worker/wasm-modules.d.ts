// A `.wasm` import arrives as a precompiled module (wrangler's default CompiledWasm rule; workerd forbids compiling
// wasm from bytes at run time).
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}
