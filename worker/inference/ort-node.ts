import * as ort from 'onnxruntime-node';
import type { InferenceBackend, ModelSession } from './backend.js';
import { wrapSession } from './session.js';

export type NodeDevice = 'cpu' | 'cuda';

/** Execution providers per device, in preference order (onnxruntime falls back to the next one). */
const EXECUTION_PROVIDERS: Readonly<Record<NodeDevice, readonly string[]>> = Object.freeze({
  cpu: Object.freeze(['cpu']),
  cuda: Object.freeze(['cuda', 'cpu']),
});

export interface OrtNodeOptions {
  device?: NodeDevice;
  /** CPU intra-op threads; 0 lets onnxruntime choose. */
  threads?: number;
}

export function createOrtNodeBackend(options: OrtNodeOptions = {}): InferenceBackend {
  const device = options.device ?? 'cpu';
  return {
    name: `onnxruntime-node/${device}`,
    async load(model: Uint8Array): Promise<ModelSession> {
      const session = await ort.InferenceSession.create(model, {
        executionProviders: [...EXECUTION_PROVIDERS[device]],
        intraOpNumThreads: options.threads ?? 0,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
      return wrapSession(ort, session);
    },
  };
}
