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

/** A float32 tensor, row-major. */
export interface OutputTensor {
  data: Float32Array;
  dims: number[];
}

/** The logits (the model's first output) and, for models that have it, the `embedding` output [N, C]. */
export interface RunResult extends OutputTensor {
  embedding?: OutputTensor;
}

/** The second graph output's name (models/toolchain/export): the pooled features before the classifier head. */
export const EMBEDDING_OUTPUT = 'embedding';

export interface ModelSession {
  readonly inputName: string;
  readonly outputName: string;
  /** Run a float32 NCHW batch (`dims` = [N, C, H, W]); the logits and the embedding, when the graph has one. */
  run(input: Float32Array, dims: readonly number[]): Promise<RunResult>;
  release(): Promise<void>;
}
