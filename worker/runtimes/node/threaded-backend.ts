/**
 * Node only: an InferenceBackend whose onnxruntime-node sessions live in a worker thread (inference-thread.ts).
 * onnxruntime-node runs a model synchronously on the calling thread; on the HTTP thread that would stall reading,
 * decoding and answering other requests for the whole batch. Here those continue on the main thread while the
 * inference thread (and onnxruntime's own intra-op threads) compute.
 */
import { Worker, type TransferListItem } from 'node:worker_threads';
import type { InferenceBackend, ModelSession, RunResult } from '../../core/inference/backend.js';
import type { NodeDevice, OrtNodeOptions } from './inference/ort-node.js';
import type { ThreadReply, ThreadRequest } from './inference-protocol.js';
import { threadBootstrap, threadStarted } from './thread-bootstrap.js';

export interface ThreadedBackend extends InferenceBackend {
  /** Stops the thread; its sessions are gone and later calls fail. */
  terminate(): Promise<void>;
}

/** The inference thread's OS name (see threadBootstrap). */
export const INFERENCE_THREAD_NAME = 'inference';

type Pending = { resolve(reply: ThreadReply): void; reject(error: Error): void };
type RequestBody = ThreadRequest extends infer R ? (R extends ThreadRequest ? Omit<R, 'id'> : never) : never;

/** Resolves once the thread runs and has loaded onnxruntime, so a broken setup fails at start, not per request. */
export async function createThreadedOrtNodeBackend(
  options: Required<Omit<OrtNodeOptions, 'preallocateOutputs'>> & OrtNodeOptions & { device: NodeDevice },
): Promise<ThreadedBackend> {
  const worker = new Worker(threadBootstrap(new URL('./inference-thread.ts', import.meta.url), INFERENCE_THREAD_NAME), {
    eval: true,
    name: INFERENCE_THREAD_NAME,
    workerData: options,
  });
  await threadStarted(worker, 'the inference thread');
  const pending = new Map<number, Pending>();
  let whenDrained: (() => void) | undefined;
  // The thread keeps the process alive only while it owes an answer, so it never holds up a stopping server.
  worker.unref();
  const settle = (id: number) => {
    const call = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) {
      worker.unref();
      whenDrained?.();
      whenDrained = undefined;
    }
    return call;
  };
  let nextId = 1;
  /** Set once the thread is gone or going: every later call fails with it. */
  let failure: Error | undefined;

  const failAll = (error: Error) => {
    failure ??= error;
    for (const id of [...pending.keys()]) settle(id)?.reject(error);
  };
  worker.on('message', (reply: ThreadReply) => settle(reply.id)?.resolve(reply));
  worker.on('error', (error) => failAll(new Error(`the inference thread failed: ${error.message}`, { cause: error })));
  worker.on('exit', (code) => failAll(new Error(`the inference thread exited (code ${code})`)));

  function send(body: RequestBody, transfer: TransferListItem[] = []): Promise<ThreadReply & { ok: true }> {
    const id = nextId++;
    const answered = new Promise<ThreadReply>((resolve, reject) => {
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...body, id } as ThreadRequest, transfer);
    });
    return answered.then((reply) => {
      if (!reply.ok) throw new Error(reply.message);
      return reply;
    });
  }
  /** Resolves once the thread has answered everything sent so far. */
  const drained = () => new Promise<void>((resolve) => (pending.size === 0 ? resolve() : (whenDrained = resolve)));
  const call = (body: RequestBody, transfer?: TransferListItem[]) =>
    failure ? Promise.reject(failure) : send(body, transfer);

  return {
    name: `onnxruntime-node/${options.device}`,
    async load(model): Promise<ModelSession> {
      // A copy goes to the thread; the caller keeps its bytes. (Not slice(): on a Node Buffer that is a view.)
      const bytes = new Uint8Array(model);
      const reply = (await call({ op: 'load', model: bytes }, [bytes.buffer])) as {
        session: number;
        inputName: string;
        outputName: string;
      };
      return {
        inputName: reply.inputName,
        outputName: reply.outputName,
        async run(input, dims) {
          const moved = new Float32Array(input);
          const output = (await call({ op: 'run', session: reply.session, input: moved, dims: [...dims] }, [
            moved.buffer,
          ])) as RunResult;
          const logits = { data: output.data, dims: output.dims };
          return output.embedding ? { ...logits, embedding: output.embedding } : logits;
        },
        release: () => call({ op: 'release', session: reply.session }).then(() => undefined),
      };
    },
    /**
     * Lets runs in progress finish before stopping the thread: terminating it while onnxruntime is inside a run
     * aborts the whole process from native code ("terminate called after throwing an instance of 'Napi::Error'").
     */
    async terminate() {
      if (failure) return;
      failure = new Error('the inference thread was stopped');
      await drained();
      await worker.terminate();
    },
  };
}
