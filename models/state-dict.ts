/** A tensor as read from a checkpoint: row-major, contiguous. Half-precision floats are widened on read. */
export type TensorValues =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Int8Array
  | Int16Array;

export interface Tensor {
  /** The dtype stored in the file (e.g. 'float32', 'float16', 'int64'); `data` may be wider. */
  dtype: string;
  shape: number[];
  data: TensorValues;
}

/** Parameter name → tensor, in the official (microsoft/Cream) key naming. */
export type StateDict = Map<string, Tensor>;

/**
 * Every checkpoint problem is reported as this, with a stable machine-readable code:
 * `unknown-format`, `unsupported-format`, `truncated`, `corrupt-archive`, `checksum-mismatch`, `oversized-entry`,
 * `oversized-state-dict`, `non-finite`, `corrupt-pickle`, `unsafe-pickle`, `pickle-limit`, `unknown-dtype`,
 * `missing-tensor`, `corrupt-tensor`, `no-state-dict`, `header-too-large`, `corrupt-header`, `unknown-key` (and, from
 * the model layer, `shape-mismatch`).
 */
export class CheckpointError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}
