/**
 * Weights must be finite numbers: one NaN or ±Inf makes every logit NaN, and an export would still "succeed".
 * Checked on the decoded values, so a float16 or bfloat16 record of garbage is caught after widening too.
 */
import { CheckpointError, type StateDict } from '../../state-dict.js';

export function assertFinite(stateDict: StateDict): void {
  for (const [name, tensor] of stateDict) {
    const { data } = tensor;
    if (!(data instanceof Float32Array || data instanceof Float64Array)) continue;
    for (let i = 0; i < data.length; i++) {
      // x - x is 0 for finite x and NaN for NaN and ±Inf: one comparison per element.
      if (data[i] - data[i] !== 0) {
        throw new CheckpointError(
          'non-finite',
          `tensor '${name}' holds ${data[i]} at index ${i}: the weights are damaged`,
        );
      }
    }
  }
}
