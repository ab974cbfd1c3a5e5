import * as ort from 'onnxruntime-web/wasm';
import type { InferenceBackend, ModelSession } from './backend.js';
import { wrapSession } from './session.js';

/**
 * The ORT WebAssembly runtime, as the host provides it: a precompiled module (workerd, where compiling wasm
 * from bytes at run time is forbidden) or the file's bytes (Node).
 */
export type OrtWasm = WebAssembly.Module | Uint8Array;

/** Settles once onnxruntime has instantiated its wasm in this isolate; reset when that attempt failed. */
let runtimeReady: Promise<void> | undefined;

/**
 * onnxruntime-web offers no hook to hand it a precompiled module, and its Emscripten glue turns a Module given as
 * `wasmBinary` into empty bytes. So, only while the first session is created, WebAssembly.instantiate is made to
 * instantiate our module whatever bytes it is handed. This is the one place that does so.
 */
async function withPrecompiledModule<T>(module: WebAssembly.Module, create: () => Promise<T>): Promise<T> {
  const original = WebAssembly.instantiate;
  const patched = ((source: unknown, imports?: WebAssembly.Imports) => {
    if (source instanceof WebAssembly.Module) return original(source, imports);
    return original(module, imports).then((instance) => ({ module, instance }));
  }) as typeof WebAssembly.instantiate;
  WebAssembly.instantiate = patched;
  try {
    return await create();
  } finally {
    WebAssembly.instantiate = original;
  }
}

/** Cheap to call: it only sets options. The wasm is instantiated by the first load(), once per isolate. */
export function createOrtWebBackend(wasm: OrtWasm): InferenceBackend {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  // Bytes make the embedded glue instantiate them directly, so nothing is fetched; a Module gets a placeholder.
  ort.env.wasm.wasmBinary = wasm instanceof WebAssembly.Module ? new Uint8Array([0]) : wasm;
  return {
    name: 'onnxruntime-web/wasm',
    async load(model: Uint8Array): Promise<ModelSession> {
      const create = () =>
        ort.InferenceSession.create(model, {
          executionProviders: ['wasm'],
          // The export is already optimized (BatchNorm folded, fused attention: models/toolchain/export) and its
          // int8 weights' Cast+Mul cost ~1 ms a run unfolded: ORT's graph optimizers only added ~40 % to session
          // creation, the bulk of a cold request (docs/performance.md, "Cold path").
          graphOptimizationLevel: 'disabled',
        });
      if (!(wasm instanceof WebAssembly.Module)) return wrapSession(ort, await create());

      for (;;) {
        const pending = runtimeReady;
        if (pending === undefined) {
          const first = withPrecompiledModule(wasm, create);
          runtimeReady = first.then(() => undefined);
          runtimeReady.catch(() => undefined); // its failure reaches this caller through `first`
          return wrapSession(ort, await first);
        }
        // Later loads wait for the first; if it failed (a corrupt model, or the runtime itself), the next one
        // through retries with the patch, so one failure does not block every later load.
        try {
          await pending;
        } catch {
          if (runtimeReady === pending) runtimeReady = undefined;
          continue;
        }
        return wrapSession(ort, await create());
      }
    },
  };
}
