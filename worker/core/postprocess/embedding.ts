/** The pooled features as /v1/embed answers them: unit L2 norm, so a dot product of two is their cosine. */

/** A copy of `v` with unit L2 norm (summed in float64); all zeros stays all zeros. */
export function l2Normalized(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const scale = sum > 0 ? 1 / Math.sqrt(sum) : 0;
  return Float32Array.from(v, (x) => x * scale);
}
