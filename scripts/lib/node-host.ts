/** The toolchain's host on Node (models/toolchain/host.ts): onnxruntime-node on the CPU and the service's decoders. */
import type { ToolchainHost } from '../../models/toolchain/host.js';
import { createImageSupport } from '../../worker/core/model-input/image-input.js';
import { loadImageWasmModules } from '../../worker/runtimes/node/image-wasm.js';
import { createOrtNodeBackend } from '../../worker/runtimes/node/inference/ort-node.js';

export const nodeToolchainHost: ToolchainHost = {
  cpuBackend: () => createOrtNodeBackend({ device: 'cpu', threads: 1 }),
  imageCodec: async () => createImageSupport(await loadImageWasmModules()),
};
