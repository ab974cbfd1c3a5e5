import * as ort from 'onnxruntime-node';
import { EMBEDDING_OUTPUT, type InferenceBackend, type ModelSession } from '../../../core/inference/backend.js';
import { wrapSession } from '../../../core/inference/session.js';

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
  /**
   * Let onnxruntime write the logits into a buffer allocated here (a non-null fetch is bound as the output) instead
   * of allocating its own. Default: on CUDA only, where the device → host copy then lands in the buffer the inference
   * thread hands on, with no copy of its own; CPU keeps the plain run.
   */
  preallocateOutputs?: boolean;
}

/**
 * Outputs that are a fresh buffer of ours (preallocated), not a view onnxruntime may still own: the inference thread
 * transfers these as they are.
 */
export const ownedOutputs = new WeakSet<Float32Array>();

/**
 * onnxruntime-node 1.30 binds a Tensor passed as a fetch as the output's memory; it offers no CUDA-resident tensors
 * to JavaScript (its 'gpu-buffer' location and preferredOutputLocation are WebGPU's), so this is as far as IO binding
 * goes here: the input is still copied host → device on every run.
 */
function withPreallocatedOutputs(session: ort.InferenceSession, classes: number): ModelSession {
  const [inputName] = session.inputNames;
  const [outputName] = session.outputNames;
  // The second output (models/toolchain/export), bound the same way when the graph declares its width.
  const embeddingDims = declaredWidth(session, EMBEDDING_OUTPUT);
  return {
    inputName,
    outputName,
    async run(input, dims) {
      const data = new Float32Array(dims[0] * classes);
      const feeds = { [inputName]: new ort.Tensor('float32', input, dims) };
      const fetches: Record<string, ort.Tensor> = { [outputName]: new ort.Tensor('float32', data, [dims[0], classes]) };
      const embedding = embeddingDims === undefined ? undefined : new Float32Array(dims[0] * embeddingDims);
      if (embedding) fetches[EMBEDDING_OUTPUT] = new ort.Tensor('float32', embedding, [dims[0], embeddingDims!]);
      const results = await session.run(feeds, fetches);
      const outDims = [...results[outputName].dims];
      results[outputName].dispose?.();
      ownedOutputs.add(data);
      if (!embedding) return { data, dims: outDims };
      const embeddingOutDims = [...results[EMBEDDING_OUTPUT].dims];
      results[EMBEDDING_OUTPUT].dispose?.();
      ownedOutputs.add(embedding);
      return { data, dims: outDims, embedding: { data: embedding, dims: embeddingOutDims } };
    },
    release: () => session.release(),
  };
}

/** The logits' class count when the graph declares it ([N, classes]). */
function declaredClasses(session: ort.InferenceSession): number | undefined {
  return declaredWidth(session, session.outputNames[0]);
}

/** The second dimension of output `name` when the graph declares it as [N, width]. */
function declaredWidth(session: ort.InferenceSession, name: string): number | undefined {
  const metadata = session.outputMetadata[session.outputNames.indexOf(name)];
  if (!metadata?.isTensor || metadata.shape.length !== 2) return undefined;
  const classes = metadata.shape[1];
  return typeof classes === 'number' ? classes : undefined;
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
      const classes = (options.preallocateOutputs ?? device === 'cuda') ? declaredClasses(session) : undefined;
      return classes === undefined ? wrapSession(ort, session) : withPreallocatedOutputs(session, classes);
    },
  };
}
