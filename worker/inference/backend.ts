/**
 * The one interface the service and the toolchain use to run a model. Implementations:
 * `ort-web.ts` (onnxruntime-web, WASM SIMD; workerd and Node) and `ort-node.ts` (onnxruntime-node; CPU or CUDA).
 * Only files in this folder import onnxruntime.
 */
export interface InferenceBackend {
  /** e.g. 'onnxruntime-web/wasm', 'onnxruntime-node/cpu', 'onnxruntime-node/cuda' */
  readonly name: string;
  /** Create a session from ONNX bytes. */
  load(model: Uint8Array): Promise<ModelSession>;
}

export interface ModelSession {
  readonly inputName: string;
  readonly outputName: string;
  /** Run a float32 NCHW batch (`dims` = [N, C, H, W]); returns the first output, row-major, and its dims. */
  run(input: Float32Array, dims: readonly number[]): Promise<{ data: Float32Array; dims: number[] }>;
  release(): Promise<void>;
}
