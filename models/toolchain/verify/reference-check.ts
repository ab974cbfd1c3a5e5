/**
 * The check a model passes before it is written: the fp32 export run on real inputs must give finite logits that
 * match the float64 reference forward pass of the same weights. It catches exporter bugs and weights that overflow
 * float32 or send the logits off to ±1e37 (e.g. a flipped exponent bit), which the state-dict checks cannot see.
 */
import type { Variant } from '../../efficientvit.js';
import type { StateDict } from '../../state-dict.js';
import type { InferenceBackend } from '../../../worker/inference/backend.js';
import { referenceOutputs } from '../reference.js';
import { topIndices } from './compare.js';

/** fp32 logits must match the float64 reference this closely (the golden bar is 1e-3). */
export const REFERENCE_TOLERANCE = 1e-3;
/** fp32 pooled features (`embedding`) vs the reference's: the same bar (they are unit-scale, as logits are). */
export const EMBEDDING_TOLERANCE = 1e-3;

export interface ReferenceCheck {
  /** Max |Δlogit| over the inputs. */
  maxAbsDiff: number;
  /** Max |Δ| of the `embedding` output (the pooled features) over the inputs. */
  embeddingMaxAbsDiff: number;
}

/** A built model that fails its check; `code` is `reference-mismatch` or `non-finite-output`. */
export class ModelCheckError extends Error {
  constructor(
    readonly code: 'reference-mismatch' | 'non-finite-output',
    message: string,
  ) {
    super(message);
    this.name = 'ModelCheckError';
  }
}

const INPUT_DIMS = [1, 3, 224, 224];

/**
 * Max |Δlogit| and max |Δembedding| of `onnx` vs the float64 reference over `inputs`; throws ModelCheckError beyond
 * the tolerances, or when the export has no `embedding` output.
 */
export async function checkAgainstReference(
  backend: InferenceBackend,
  onnx: Uint8Array,
  weights: StateDict,
  variant: Variant,
  inputs: readonly Float32Array[],
): Promise<ReferenceCheck> {
  const session = await backend.load(onnx);
  try {
    let maxAbsDiff = 0;
    let embeddingMaxAbsDiff = 0;
    for (const input of inputs) {
      const { data, embedding } = await session.run(input, INPUT_DIMS);
      assertFiniteLogits(data, `${variant} fp32 export`);
      const reference = referenceOutputs(weights, variant, input, 1);
      const expected = reference.logits;
      if (!embedding || embedding.data.length !== reference.embedding.length)
        throw new ModelCheckError(
          'reference-mismatch',
          `${variant} fp32 export has no embedding output of the reference's size`,
        );
      for (let i = 0; i < embedding.data.length; i++)
        embeddingMaxAbsDiff = Math.max(embeddingMaxAbsDiff, Math.abs(embedding.data[i] - reference.embedding[i]));
      if (!(embeddingMaxAbsDiff <= EMBEDDING_TOLERANCE))
        throw new ModelCheckError(
          'reference-mismatch',
          `${variant} fp32 export's embedding disagrees with the float64 reference (max |Δ| ${embeddingMaxAbsDiff})`,
        );
      for (let i = 0; i < data.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(data[i] - expected[i]));
      const same = topIndices(data, 5).join() === topIndices(expected, 5).join();
      // Written so that NaN fails it too.
      if (!same || !(maxAbsDiff <= REFERENCE_TOLERANCE)) {
        throw new ModelCheckError(
          'reference-mismatch',
          `${variant} fp32 export disagrees with the float64 reference (max |Δlogit| ${maxAbsDiff}, top-5 equal: ${same})`,
        );
      }
    }
    return { maxAbsDiff, embeddingMaxAbsDiff };
  } finally {
    await session.release();
  }
}

/** Runs `onnx` on `input` and throws ModelCheckError unless every logit is finite (for models with no reference). */
export async function checkFiniteOutput(
  backend: InferenceBackend,
  onnx: Uint8Array,
  input: Float32Array,
  what: string,
): Promise<void> {
  const session = await backend.load(onnx);
  try {
    assertFiniteLogits((await session.run(input, INPUT_DIMS)).data, what);
  } finally {
    await session.release();
  }
}

function assertFiniteLogits(logits: Float32Array, what: string): void {
  const bad = logits.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw new ModelCheckError(
      'non-finite-output',
      `${what} outputs ${logits[bad]} (logit ${bad}): the weights are damaged`,
    );
}
