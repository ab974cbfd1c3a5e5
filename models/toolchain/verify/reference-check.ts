/**
 * The check a model passes before it is written: the fp32 export run on real inputs must give finite logits that
 * match the float64 reference forward pass of the same weights. It catches exporter bugs and weights that overflow
 * float32 or send the logits off to ±1e37 (e.g. a flipped exponent bit), which the state-dict checks cannot see.
 */
import type { StateDict } from '../../state-dict.js';
import type { InferenceBackend } from '../../../worker/core/inference/backend.js';
import { referenceOutputs } from '../reference.js';
import { topIndices } from './compare.js';
import type { Variant } from '../../../worker/core/manifest/manifest.js';

/**
 * fp32 logits must match the float64 reference this closely (the golden bar is 1e-3) while the logits are within
 * ±10; beyond that the bar grows with them (referenceTolerance): float32 rounding is relative, an exporter bug is not.
 */
export const REFERENCE_TOLERANCE = 1e-3;
const TOLERANCE_SCALE = 10;
/** Never more than 10× the bar: logits past ±100 are damaged weights (a flipped exponent bit), not rounding. */
const MAX_SCALE = 10;

/**
 * The bar for one output: REFERENCE_TOLERANCE, relative to the reference's largest magnitude once that exceeds 10.
 * Seen: synthetic M2 weights with logits up to 58 differ by 1.1e-3 on one CPU (2e-5 relative) and less on another;
 * a wrong weight or bias moves logits by O(1).
 */
export function referenceTolerance(reference: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < reference.length; i++) largest = Math.max(largest, Math.abs(reference[i]));
  return REFERENCE_TOLERANCE * Math.min(MAX_SCALE, Math.max(1, largest / TOLERANCE_SCALE));
}

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
      const embeddingDiff = maxAbsDifference(embedding.data, reference.embedding);
      embeddingMaxAbsDiff = Math.max(embeddingMaxAbsDiff, embeddingDiff);
      // The pooled features get the same bar as the logits (unit-scale, as logits are).
      if (!(embeddingDiff <= referenceTolerance(reference.embedding)))
        throw new ModelCheckError(
          'reference-mismatch',
          `${variant} fp32 export's embedding disagrees with the float64 reference (max |Δ| ${embeddingDiff})`,
        );
      const diff = maxAbsDifference(data, expected);
      maxAbsDiff = Math.max(maxAbsDiff, diff);
      const same = topIndices(data, 5).join() === topIndices(expected, 5).join();
      // Written so that NaN fails it too.
      if (!same || !(diff <= referenceTolerance(expected))) {
        throw new ModelCheckError(
          'reference-mismatch',
          `${variant} fp32 export disagrees with the float64 reference (max |Δlogit| ${diff}, bar ` +
            `${referenceTolerance(expected)}, top-5 equal: ${same})`,
        );
      }
    }
    return { maxAbsDiff, embeddingMaxAbsDiff };
  } finally {
    await session.release();
  }
}

/** Largest |a[i] - b[i]| (NaN when any difference is NaN, so that it fails every bar). */
function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= largest)) largest = d;
  }
  return largest;
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
