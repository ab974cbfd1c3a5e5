/**
 * How closely a quantized model follows its float twin on the same images: top-1 agreement, top-5 overlap and the
 * cosine similarity of the logit vectors. These are what `npm run models -- verify` prints.
 */
import type { ModelSession } from '../../../worker/core/inference/backend.js';
import { asBatch, type ImageInput } from './images.js';

export interface AgreementMetrics {
  /** Number of images compared. */
  images: number;
  /** Share of images whose top-1 class is the same in both models (0…1). */
  top1Agreement: number;
  /** Mean of |top5(candidate) ∩ top5(reference)| / 5 (0…1). */
  top5Overlap: number;
  meanCosine: number;
  minCosine: number;
  /** Mean over images of ‖candidate − reference‖ / ‖reference‖. */
  meanRelativeError: number;
  /** Largest |candidate − reference| over all logits. */
  maxAbsDiff: number;
  /**
   * Median over images of the reference's top-1 minus top-2 logit, in units of that row's logit standard deviation:
   * how far apart the leading classes are, i.e. how much error the top-1 agreement can absorb.
   */
  medianReferenceMargin: number;
  /** Cosine of the two models' `embedding` outputs (mean, min over images), when both have one. */
  embeddingMeanCosine?: number;
  embeddingMinCosine?: number;
}

/** cos(a, b); 1 for two zero vectors (identical), 0 when only one is zero. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na === 0 && nb === 0) return 1;
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/** Indices of the k largest values, largest first; ties keep the lower index first. */
export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (best.length === k && values[i] <= values[best[k - 1]]) continue;
    let at = best.length;
    while (at > 0 && values[i] > values[best[at - 1]]) at--;
    best.splice(at, 0, i);
    if (best.length > k) best.pop();
  }
  return best;
}

export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`cosine of vectors of length ${a.length} and ${b.length}`);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? (na === nb ? 1 : 0) : dot / Math.sqrt(na * nb);
}

/** Agreement of per-image logit rows (each pair: candidate row, reference row). */
export function agreementOf(
  rows: readonly { candidate: ArrayLike<number>; reference: ArrayLike<number> }[],
): AgreementMetrics {
  if (rows.length === 0) throw new Error('no images to compare');
  let top1 = 0;
  let top5 = 0;
  let cosineSum = 0;
  let minCosine = Infinity;
  let maxAbsDiff = 0;
  let relativeErrorSum = 0;
  const margins: number[] = [];
  for (const { candidate, reference } of rows) {
    const c5 = topIndices(candidate, 5);
    const r5 = topIndices(reference, 5);
    if (c5[0] === r5[0]) top1++;
    top5 += c5.filter((i) => r5.includes(i)).length / 5;
    const cosine = cosineSimilarity(candidate, reference);
    cosineSum += cosine;
    minCosine = Math.min(minCosine, cosine);
    let errorSquared = 0;
    let referenceSquared = 0;
    let sum = 0;
    for (let i = 0; i < candidate.length; i++) {
      const diff = candidate[i] - reference[i];
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(diff));
      errorSquared += diff * diff;
      referenceSquared += reference[i] * reference[i];
      sum += reference[i];
    }
    relativeErrorSum +=
      referenceSquared > 0 ? Math.sqrt(errorSquared / referenceSquared) : errorSquared > 0 ? Infinity : 0;
    const mean = sum / reference.length;
    const std = Math.sqrt(referenceSquared / reference.length - mean * mean);
    margins.push(reference.length > 1 && std > 0 ? (reference[r5[0]] - reference[r5[1]]) / std : 0);
  }
  const n = rows.length;
  margins.sort((a, b) => a - b);
  const medianReferenceMargin = n % 2 === 1 ? margins[(n - 1) / 2] : (margins[n / 2 - 1] + margins[n / 2]) / 2;
  return {
    images: n,
    top1Agreement: top1 / n,
    top5Overlap: top5 / n,
    meanCosine: cosineSum / n,
    minCosine,
    meanRelativeError: relativeErrorSum / n,
    maxAbsDiff,
    medianReferenceMargin,
  };
}

/** Splits an [N, classes] output into its rows. */
function rowsOf(output: { data: Float32Array; dims: number[] }): Float32Array[] {
  const [n, classes] = [output.dims[0], output.data.length / output.dims[0]];
  return Array.from({ length: n }, (_, i) => output.data.subarray(i * classes, (i + 1) * classes));
}

/** Runs both sessions on every image (batches allowed) and compares their logits. */
export async function compareModels(
  candidate: ModelSession,
  reference: ModelSession,
  images: readonly ImageInput[],
): Promise<AgreementMetrics> {
  const rows: { candidate: Float32Array; reference: Float32Array }[] = [];
  const embeddingCosines: number[] = [];
  let bothEmbed = true;
  for (const image of images) {
    const batch = asBatch(image);
    const cOut = await candidate.run(batch.data, batch.dims);
    const rOut = await reference.run(batch.data, batch.dims);
    const c = rowsOf(cOut);
    const r = rowsOf(rOut);
    if (c.length !== r.length || c[0].length !== r[0].length)
      throw new Error('the two models disagree on the output shape');
    c.forEach((row, i) => rows.push({ candidate: row, reference: r[i] }));
    if (cOut.embedding && rOut.embedding) {
      const re = rowsOf(rOut.embedding);
      rowsOf(cOut.embedding).forEach((row, i) => embeddingCosines.push(cosine(row, re[i])));
    } else bothEmbed = false;
  }
  const metrics = agreementOf(rows);
  if (!bothEmbed || embeddingCosines.length === 0) return metrics;
  return {
    ...metrics,
    embeddingMeanCosine: embeddingCosines.reduce((a, b) => a + b, 0) / embeddingCosines.length,
    embeddingMinCosine: Math.min(...embeddingCosines),
  };
}
