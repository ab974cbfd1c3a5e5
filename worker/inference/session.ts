import type * as ortCommon from 'onnxruntime-common';
import type { ModelSession } from './backend.js';

type OrtModule = { Tensor: typeof ortCommon.Tensor };

/** Adapts an onnxruntime InferenceSession (web or node; they share onnxruntime-common's API) to ModelSession. */
export function wrapSession(ort: OrtModule, session: ortCommon.InferenceSession): ModelSession {
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  return {
    inputName,
    outputName,
    async run(input, dims) {
      const feeds = { [inputName]: new ort.Tensor('float32', input, dims) };
      const results = await session.run(feeds);
      const output = results[outputName];
      const data = output.data as Float32Array;
      const outDims = [...output.dims];
      output.dispose?.();
      return { data, dims: outDims };
    },
    release: () => session.release(),
  };
}
