/**
 * Dynamic batching: requests that reach one model within a short window run as one inference call over the
 * concatenated batch, and each request gets back exactly its own rows. Runtime-neutral (timers and typed arrays
 * only), so it can wrap any ModelSession.
 *
 * Scheduling follows Triton's dynamic batcher: the first request into an idle batcher opens a window of `windowMs`;
 * the batch runs when the window closes or `maxBatch` images are waiting, whichever comes first. One batch runs at
 * a time; requests that arrive meanwhile have already waited, so they run as soon as it finishes (no second window).
 */

import type { OutputTensor, RunResult } from '../../core/inference/backend.js';

export interface BatchingOptions {
  /** How long the first waiting request holds the batch open for others, in milliseconds. */
  windowMs: number;
  /** Most images in one inference call. A single request with more images still runs, alone. */
  maxBatch: number;
  /** Most images waiting for inference (not counting the running batch); beyond it, submit() rejects. */
  maxQueue: number;
}

export const DEFAULT_BATCHING: Readonly<BatchingOptions> = Object.freeze({ windowMs: 2, maxBatch: 16, maxQueue: 256 });

export interface BatchStats {
  /** Inference calls made. */
  batches: number;
  /** Images run through them. */
  images: number;
  /** Largest batch so far, in images. */
  largestBatch: number;
  /** Requests refused because the queue was full. */
  rejected: number;
  /** Images waiting now. */
  queued: number;
}

/** Thrown by submit() when the queue is full; `retryAfterSeconds` estimates when there will be room. */
export class QueueFullError extends Error {
  constructor(
    readonly queued: number,
    readonly limit: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`the inference queue is full (${queued} images waiting, limit ${limit})`);
    this.name = 'QueueFullError';
  }
}

/** One inference call: input row-major with dims [N, ...item]; output row-major with dims [N, ...]. */
export type RunBatch = (input: Float32Array, dims: readonly number[]) => Promise<RunResult>;

interface Waiting {
  input: Float32Array;
  dims: readonly number[];
  rows: number;
  resolve(result: RunResult): void;
  reject(error: unknown): void;
}

export function checkBatchingOptions(options: BatchingOptions): BatchingOptions {
  const { windowMs, maxBatch, maxQueue } = options;
  if (!(Number.isFinite(windowMs) && windowMs >= 0))
    throw new RangeError(`batch window must be ≥ 0 ms, got ${windowMs}`);
  if (!(Number.isInteger(maxBatch) && maxBatch >= 1))
    throw new RangeError(`max batch must be an integer ≥ 1, got ${maxBatch}`);
  if (!(Number.isInteger(maxQueue) && maxQueue >= 1))
    throw new RangeError(`max queue must be an integer ≥ 1, got ${maxQueue}`);
  return { windowMs, maxBatch, maxQueue };
}

const sameItemShape = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((size, axis) => axis === 0 || size === b[axis]);

export class DynamicBatcher {
  private readonly options: BatchingOptions;
  private readonly queue: Waiting[] = [];
  private queuedRows = 0;
  private running = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Smoothed duration of one batch, for the Retry-After estimate. */
  private batchMs = 0;
  private readonly counters = { batches: 0, images: 0, largestBatch: 0, rejected: 0 };
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly runBatch: RunBatch,
    options: BatchingOptions,
  ) {
    this.options = checkBatchingOptions(options);
  }

  /** Queues one request of dims[0] images; resolves with its own output rows. */
  submit(input: Float32Array, dims: readonly number[]): Promise<RunResult> {
    const rows = dims[0];
    const itemSize = dims.slice(1).reduce((product, size) => product * size, 1);
    if (!(Number.isInteger(rows) && rows >= 1) || input.length !== rows * itemSize) {
      return Promise.reject(new RangeError(`input of ${input.length} values does not match dims [${dims.join(', ')}]`));
    }
    // An empty queue always takes a request, so a request larger than the queue limit is not refused forever.
    if (this.queuedRows > 0 && this.queuedRows + rows > this.options.maxQueue) {
      this.counters.rejected++;
      return Promise.reject(new QueueFullError(this.queuedRows, this.options.maxQueue, this.retryAfterSeconds()));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ input, dims: [...dims], rows, resolve, reject });
      this.queuedRows += rows;
      this.schedule();
    });
  }

  stats(): BatchStats {
    return { ...this.counters, queued: this.queuedRows };
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private retryAfterSeconds(): number {
    const batchesAhead = Math.ceil(this.queuedRows / this.options.maxBatch) + 1;
    return Math.max(1, Math.ceil((batchesAhead * this.batchMs) / 1000));
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    if (this.queuedRows >= this.options.maxBatch) {
      this.startBatch();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.startBatch(), this.options.windowMs);
    }
  }

  /** Takes requests from the head while they fit in maxBatch and share the head's item shape (never reordering). */
  private takeBatch(): Waiting[] {
    const batch = [this.queue.shift()!];
    let rows = batch[0].rows;
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (rows + next.rows > this.options.maxBatch || !sameItemShape(next.dims, batch[0].dims)) break;
      batch.push(this.queue.shift()!);
      rows += next.rows;
    }
    this.queuedRows -= rows;
    return batch;
  }

  private startBatch(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.queue.length === 0) return;
    this.running = true;
    const batch = this.takeBatch();
    void this.runAndSplit(batch).finally(() => {
      this.running = false;
      // Whoever queued during this batch has waited at least as long as the window: run them now.
      if (this.queue.length > 0) this.startBatch();
      else this.notifyIdle();
    });
  }

  private async runAndSplit(batch: Waiting[]): Promise<void> {
    const rows = batch.reduce((total, request) => total + request.rows, 0);
    const itemDims = batch[0].dims.slice(1);
    const itemSize = batch[0].input.length / batch[0].rows;
    let input = batch[0].input;
    if (batch.length > 1) {
      input = new Float32Array(rows * itemSize);
      let offset = 0;
      for (const request of batch) {
        input.set(request.input, offset);
        offset += request.input.length;
      }
    }

    const started = performance.now();
    let output: RunResult;
    try {
      output = await this.runBatch(input, [rows, ...itemDims]);
      if (output.dims[0] !== rows || output.data.length % rows !== 0) {
        throw new Error(`batched inference returned dims [${output.dims.join(', ')}] for a batch of ${rows}`);
      }
    } catch (error) {
      for (const request of batch) request.reject(error);
      return;
    } finally {
      const elapsed = performance.now() - started;
      this.batchMs = this.counters.batches === 0 ? elapsed : 0.8 * this.batchMs + 0.2 * elapsed;
      this.counters.batches++;
      this.counters.images += rows;
      this.counters.largestBatch = Math.max(this.counters.largestBatch, rows);
    }

    let row = 0;
    for (const request of batch) {
      // A copy per request, so one response never holds (or sees) another request's rows.
      const rowsOf = (tensor: OutputTensor): OutputTensor => {
        const rowSize = tensor.data.length / rows;
        const data =
          batch.length === 1 ? tensor.data : tensor.data.slice(row * rowSize, (row + request.rows) * rowSize);
        return { data, dims: [request.rows, ...tensor.dims.slice(1)] };
      };
      const logits = rowsOf(output);
      request.resolve(output.embedding ? { ...logits, embedding: rowsOf(output.embedding) } : logits);
      row += request.rows;
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
