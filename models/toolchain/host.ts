/**
 * What the toolchain needs from the machine it runs on, handed in by its callers (the CLIs and tests use
 * scripts/lib/node-host.ts): the toolchain itself imports only worker/core, never a runtime.
 */
import type { InferenceBackend } from '../../worker/core/inference/backend.js';
import type { ImageCodec } from '../../worker/core/model-input/image-input.js';

export interface ToolchainHost {
  /** onnxruntime on this machine's CPU, one thread: what builds are verified with (deterministic, comparable). */
  cpuBackend(): InferenceBackend;
  /** The service's image decoders and eval preprocessing, compiled for this machine. */
  imageCodec(): Promise<ImageCodec>;
}
