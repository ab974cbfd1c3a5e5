/**
 * Node only: image decoding and preprocessing in a pool of worker threads (`--decode-threads N`), so the HTTP thread,
 * the batcher and the inference thread never wait on one core's decoding. Implements the pipeline's ImageSupport:
 * the app stays runtime-neutral and gets the pool through AppDeps.images.
 *
 * Each thread decodes one image at a time (as the HTTP thread does: one decode's working set per thread) and writes
 * the model input straight into the batch tensor, which allocate() puts in a SharedArrayBuffer. Images wait in one
 * bounded FIFO queue; beyond `maxQueue` a write is refused at once with 503 overloaded, as the batching queue does.
 */
import { Worker } from 'node:worker_threads';
import type { ImageJob, ImageSupport, ImageTiming } from '../classify/pipeline.js';
import { ApiError } from '../errors.js';
import type { Clock } from '../http/timing.js';
import type { DecodeReply, DecodeRequest } from './decode-protocol.js';
import { threadBootstrap } from './thread-bootstrap.js';

export interface DecodePoolOptions {
  threads: number;
  /** Most images waiting for a thread. */
  maxQueue: number;
}

export interface DecodePoolStats {
  threads: number;
  maxQueue: number;
  /** Images waiting for a thread now. */
  queued: number;
  /** Images being decoded now. */
  busy: number;
  images: number;
  rejected: number;
  /** Threads replaced after one died (each such image answered 422 corrupt-image). */
  restarts: number;
}

export interface DecodePool extends ImageSupport {
  stats(): DecodePoolStats;
  /** Waits for the images already accepted, then stops the threads; later writes fail. */
  close(): Promise<void>;
}

interface Task {
  request: Omit<DecodeRequest, 'id'>;
  resolve(reply: DecodeReply): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  task?: Task;
}

const ENTRY = new URL('./decode-thread.ts', import.meta.url);

function startThread(): Promise<Worker> {
  const worker = new Worker(threadBootstrap(ENTRY), { eval: true });
  return new Promise<Worker>((resolve, reject) => {
    const failed = (error: Error) =>
      reject(new Error(`a decode thread did not start: ${error.message}`, { cause: error }));
    const exited = (code: number) => failed(new Error(`it exited with code ${code}`));
    worker.once('error', failed);
    worker.once('exit', exited);
    worker.once('message', () => {
      worker.off('error', failed);
      worker.off('exit', exited);
      // Requests in flight keep the process alive, not idle threads: they never hold up a stopping server.
      worker.unref();
      resolve(worker);
    });
  });
}

function fromReply(reply: DecodeReply): ImageTiming {
  if (reply.ok) return reply.timing;
  if ('problem' in reply) {
    const { code, message, extensions, headers } = reply.problem;
    throw new ApiError(code, message, { extensions, headers });
  }
  throw new Error(`a decode thread failed: ${reply.bug}`);
}

export async function createDecodePool(options: DecodePoolOptions): Promise<DecodePool> {
  if (!Number.isInteger(options.threads) || options.threads < 1) throw new Error('a decode pool needs ≥ 1 thread');
  const slots: Slot[] = (await Promise.all(Array.from({ length: options.threads }, startThread))).map((worker) => ({
    worker,
  }));
  const queue: Task[] = [];
  const counters = { images: 0, rejected: 0, restarts: 0 };
  let nextId = 1;
  let closed = false;
  let whenIdle: (() => void) | undefined;

  const busy = () => slots.filter((slot) => slot.task).length;
  const dispatch = () => {
    for (const slot of slots) {
      if (queue.length === 0) break;
      if (!slot.task) run(slot, queue.shift()!);
    }
    if (queue.length === 0 && busy() === 0) whenIdle?.();
  };

  function run(slot: Slot, task: Task): void {
    slot.task = task;
    const id = nextId++;
    const { worker } = slot;
    const settle = () => {
      worker.off('message', answered);
      worker.off('error', died);
      worker.off('exit', died);
      slot.task = undefined;
    };
    const answered = (reply: DecodeReply) => {
      if (reply.id !== id) return;
      settle();
      task.resolve(reply);
      dispatch();
    };
    // A thread that dies mid-image (a decoder abort, memory) takes only this image with it: it is answered as
    // undecodable, as the decoders' own failures are, and a fresh thread takes the slot.
    const died = (cause: unknown) => {
      settle();
      const reason = cause instanceof Error ? cause.message : `exit code ${String(cause)}`;
      task.resolve({
        id,
        ok: false,
        problem: {
          code: 'corrupt-image',
          message: `the image cannot be decoded: the decoder thread failed (${reason})`,
          extensions: {},
          headers: {},
        },
      });
      void worker.terminate();
      const retire = (error: Error) => {
        // No replacement: the pool goes on with one thread less, and fails what waits once none is left.
        slot.task = undefined;
        slots.splice(slots.indexOf(slot), 1);
        if (slots.length === 0) for (const waiting of queue.splice(0)) waiting.reject(error);
        dispatch();
      };
      if (closed) return retire(new Error('the decode pool was closed'));
      counters.restarts++;
      startThread().then((fresh) => {
        slot.worker = fresh;
        slot.task = undefined;
        dispatch();
      }, retire);
      // The slot stays taken until its replacement runs.
      slot.task = task;
    };
    worker.on('message', answered);
    worker.once('error', died);
    worker.once('exit', died);
    worker.postMessage({ ...task.request, id } satisfies DecodeRequest);
  }

  return {
    allocate: (elements) => new Float32Array(new SharedArrayBuffer(elements * Float32Array.BYTES_PER_ELEMENT)),
    parallel: options.threads,
    async write(bytes: Uint8Array, job: ImageJob, out: Float32Array, offset: number, clock: Clock) {
      if (closed) throw new Error('the decode pool was closed');
      if (queue.length >= options.maxQueue) {
        counters.rejected++;
        throw new ApiError(
          'overloaded',
          `the decode queue is full (${queue.length} images waiting, limit ${options.maxQueue}); retry after 1 s`,
          { headers: { 'Retry-After': '1' }, extensions: { queued: queue.length, limit: options.maxQueue } },
        );
      }
      const started = clock();
      // Only a shared tensor can be written by another thread; any other is filled through a shared copy.
      const shared = out.buffer instanceof SharedArrayBuffer;
      const elements = job.preprocessing.centerCrop * job.preprocessing.centerCrop * 3;
      const target = shared ? out : new Float32Array(new SharedArrayBuffer(elements * 4));
      const reply = await new Promise<DecodeReply>((resolve, reject) => {
        queue.push({
          request: {
            // Structured cloning copies a view's whole buffer (a multipart body): send just this image.
            bytes: bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice(),
            job,
            out: target.buffer as SharedArrayBuffer,
            offset: shared ? out.byteOffset / 4 + offset : 0,
            elements,
          },
          resolve,
          reject,
        });
        dispatch();
      });
      counters.images++;
      const timing = fromReply(reply);
      if (!shared) out.set(target, offset);
      // The thread's own wait was ~0; the image's wait is its time in the queue (and the message round trip).
      const waited = clock() - started - timing.decode_ms - timing.preprocess_ms;
      return { ...timing, decode_wait_ms: Math.max(0, waited) };
    },
    stats: () => ({
      threads: options.threads,
      maxQueue: options.maxQueue,
      queued: queue.length,
      busy: busy(),
      ...counters,
    }),
    async close() {
      closed = true;
      if (queue.length > 0 || busy() > 0) await new Promise<void>((resolve) => (whenIdle = resolve));
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}
