// A `.wasm` import arrives as a precompiled module (wrangler's default CompiledWasm rule; workerd forbids compiling
// wasm from bytes at run time).
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}

// An ONNX file imported by the script is a Data module (wrangler.toml [[rules]]): worker/runtimes/workerd/startup-model.ts.
declare module '*.onnx' {
  const bytes: ArrayBuffer;
  export default bytes;
}
