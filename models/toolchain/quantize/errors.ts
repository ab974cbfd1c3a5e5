/** What the quantization passes throw for input they cannot work on, with a stable machine-readable code. */
export class QuantizeError extends Error {
  constructor(
    readonly code: 'invalid-model' | 'unsupported-model',
    message: string,
  ) {
    super(message);
    this.name = 'QuantizeError';
  }
}
