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
import { ApiError } from '../../service/problems.js';
import type { Clock } from '../../service/http/timing.js';
import type { DecodeReply, DecodeRequest } from './decode-protocol.js';
import { threadBootstrap, threadStarted } from './thread-bootstrap.js';
import type { ImageJob, ImageSupport, ImageTiming } from '../../core/model-input/image-input.js';

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
  /** Thread time spent decoding and preprocessing them (ms): images / busyMs sizes a thread. */
  busyMs: number;
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
  /** Images sent to this thread and not yet answered, by message id. */
  tasks: Map<number, Task>;
  /** false while a replacement thread starts. */
  ready: boolean;
}

/**
 * Images handed to a thread at once: it works through them in order, so it starts the next one as soon as one is
 * done instead of idling until the (possibly busy) HTTP thread has read its answer and sent more.
 */
const DEPTH = 2;

const ENTRY = new URL('./decode-thread.ts', import.meta.url);

/** Decode thread i's OS name (see threadBootstrap): `decode-1`, `decode-2`, … (a replacement keeps its slot's). */
export const decodeThreadName = (index: number) => `decode-${index + 1}`;

async function startThread(index: number): Promise<Worker> {
  const name = decodeThreadName(index);
  const worker = new Worker(threadBootstrap(ENTRY, name), { eval: true, name });
  await threadStarted(worker, 'a decode thread');
  // Requests in flight keep the process alive, not idle threads: they never hold up a stopping server.
  worker.unref();
  return worker;
}

function fromReply(reply: DecodeReply): ImageTiming {
  if (reply.ok) return reply.timing;
  if ('problem' in reply) {
    const { code, message, details, headers } = reply.problem;
    throw new ApiError(code, message, { details, headers });
  }
  throw new Error(`a decode thread failed: ${reply.bug}`);
}

export async function createDecodePool(options: DecodePoolOptions): Promise<DecodePool> {
  if (!Number.isInteger(options.threads) || options.threads < 1) throw new Error('a decode pool needs ≥ 1 thread');
  const queue: Task[] = [];
  const counters = { images: 0, busyMs: 0, rejected: 0, restarts: 0 };
  let nextId = 1;
  let closed = false;
  /** close() is terminating the threads: their exits are expected. */
  let stopping = false;
  let whenIdle: (() => void) | undefined;
  const slots: Slot[] = [];

  const busy = () => slots.reduce((total, slot) => total + slot.tasks.size, 0);
  const dispatch = () => {
    for (let depth = 1; depth <= DEPTH; depth++) {
      for (const slot of slots) {
        if (queue.length === 0) break;
        if (slot.ready && slot.tasks.size < depth) send(slot, queue.shift()!);
      }
    }
    if (queue.length === 0 && busy() === 0) whenIdle?.();
  };

  function send(slot: Slot, task: Task): void {
    const id = nextId++;
    slot.tasks.set(id, task);
    slot.worker.postMessage({ ...task.request, id } satisfies DecodeRequest);
  }

  function attach(worker: Worker, slot: Slot): void {
    worker.on('message', (reply: DecodeReply) => {
      const task = slot.tasks.get(reply.id);
      if (!task) return;
      slot.tasks.delete(reply.id);
      task.resolve(reply);
      dispatch();
    });
    // A thread that dies (a decoder abort, memory) takes only the image it was decoding with it: that one is answered
    // as undecodable, as the decoders' own failures are; the one waiting behind it goes back to the front of the
    // queue, and a fresh thread takes the slot.
    let gone = false;
    const died = (cause: unknown) => {
      if (gone || stopping || slot.worker !== worker) return;
      gone = true;
      const reason = cause instanceof Error ? cause.message : `exit code ${String(cause)}`;
      // A thread works through its images in the order sent: the lowest id is the one it was on.
      const [current, ...waiting] = [...slot.tasks].sort(([a], [b]) => a - b);
      slot.tasks.clear();
      queue.unshift(...waiting.map(([, task]) => task));
      for (const [id, task] of current ? [current] : []) {
        task.resolve({
          id,
          ok: false,
          problem: {
            code: 'corrupt-image',
            message: `the image cannot be decoded: the decoder thread failed (${reason})`,
            details: {},
            headers: {},
          },
        });
      }
      void worker.terminate();
      const retire = (error: Error) => {
        // No replacement: the pool goes on with one thread less, and fails what waits once none is left.
        slots.splice(slots.indexOf(slot), 1);
        if (slots.length === 0) for (const waiting of queue.splice(0)) waiting.reject(error);
        dispatch();
      };
      if (closed) return retire(new Error('the decode pool was closed'));
      counters.restarts++;
      slot.ready = false; // out of dispatch's reach until its replacement runs
      startThread(slots.indexOf(slot)).then((fresh) => {
        slot.ready = true;
        slot.worker = fresh;
        attach(fresh, slot);
        dispatch();
      }, retire);
    };
    worker.once('error', died);
    worker.once('exit', died);
  }

  for (const worker of await Promise.all(Array.from({ length: options.threads }, (_, index) => startThread(index)))) {
    const slot: Slot = { worker, tasks: new Map(), ready: true };
    slots.push(slot);
    attach(worker, slot);
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
          { headers: { 'Retry-After': '1' }, details: { queued: queue.length, limit: options.maxQueue } },
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
      counters.busyMs += timing.decode_ms + timing.preprocess_ms;
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
      stopping = true;
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}
