/**
 * A trained head on its base model's output (manifest/head.ts): logits = W·e + b on the raw embedding e, divided by
 * the fitted temperature, so that the usual softmax of what this returns is the calibrated score. A C×K product per
 * image: microseconds, and no session of its own.
 */
import type { HeadFile } from '../manifest/head.js';

/** A head's numbers ready for computing: float32 as the file stores them. */
export interface HeadWeights {
  classes: number;
  dims: number;
  weights: Float32Array;
  bias: Float32Array;
  temperature: number;
}

export function headWeights(file: HeadFile): HeadWeights {
  return {
    classes: file.classes,
    dims: file.dims,
    weights: Float32Array.from(file.weights),
    bias: Float32Array.from(file.bias),
    temperature: file.temperature,
  };
}

/** (W·e + b) / T for each of `rows` embeddings (rows × dims), summed in float64; rows × classes float32. */
export function headLogits(head: HeadWeights, embeddings: Float32Array, rows: number): Float32Array {
  const { classes, dims, weights, bias, temperature } = head;
  const out = new Float32Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const e = r * dims;
    for (let c = 0; c < classes; c++) {
      let sum = bias[c];
      const w = c * dims;
      for (let j = 0; j < dims; j++) sum += weights[w + j] * embeddings[e + j];
      out[r * classes + c] = sum / temperature;
    }
  }
  return out;
}
