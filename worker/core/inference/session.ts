import type * as ortCommon from 'onnxruntime-common';
import { EMBEDDING_OUTPUT, type ModelSession, type OutputTensor } from './backend.js';

type OrtModule = { Tensor: typeof ortCommon.Tensor };

/** Adapts an onnxruntime InferenceSession (web or node; they share onnxruntime-common's API) to ModelSession. */
export function wrapSession(ort: OrtModule, session: ortCommon.InferenceSession): ModelSession {
  const inputName = session.inputNames[0];
  const outputName = session.outputNames.find((name) => name !== EMBEDDING_OUTPUT) ?? session.outputNames[0];
  const hasEmbedding = session.outputNames.includes(EMBEDDING_OUTPUT);
  return {
    inputName,
    outputName,
    async run(input, dims) {
      const feeds = { [inputName]: new ort.Tensor('float32', input, dims) };
      const results = await session.run(feeds);
      const take = (name: string): OutputTensor => {
        const output = results[name];
        const data = output.data as Float32Array;
        const dims = [...output.dims];
        output.dispose?.();
        return { data, dims };
      };
      const logits = take(outputName);
      return hasEmbedding ? { ...logits, embedding: take(EMBEDDING_OUTPUT) } : logits;
    },
    release: () => session.release(),
  };
}
