/**
 * Runs inside the Node server's inference thread: owns the onnxruntime-node sessions and answers load/run/release
 * messages one at a time. onnxruntime-node's run() is synchronous native work, so here it blocks this thread
 * instead of the HTTP event loop, which keeps reading, decoding and answering meanwhile.
 */
import { parentPort, workerData, type TransferListItem } from 'node:worker_threads';
import type { ModelSession } from '../../core/inference/backend.js';
import { createOrtNodeBackend, ownedOutputs, type OrtNodeOptions } from './inference/ort-node.js';
import type { ThreadReply, ThreadRequest } from './inference-protocol.js';

const port = parentPort!;
const backend = createOrtNodeBackend(workerData as OrtNodeOptions);
const sessions = new Map<number, ModelSession>();
let nextSession = 1;

function session(id: number): ModelSession {
  const found = sessions.get(id);
  if (!found) throw new Error(`session ${id} was released`);
  return found;
}

async function handle(request: ThreadRequest): Promise<[ThreadReply, TransferListItem[]]> {
  switch (request.op) {
    case 'load': {
      const loaded = await backend.load(request.model);
      const id = nextSession++;
      sessions.set(id, loaded);
      return [
        { id: request.id, ok: true, session: id, inputName: loaded.inputName, outputName: loaded.outputName },
        [],
      ];
    }
    case 'run': {
      const output = await session(request.session).run(request.input, request.dims);
      // A copy we own, so it can be moved to the other thread without copying again (preallocated outputs already are).
      const owned = (data: Float32Array) => (ownedOutputs.has(data) ? data : data.slice());
      const data = owned(output.data);
      const embedding = output.embedding && { data: owned(output.embedding.data), dims: output.embedding.dims };
      return [
        { id: request.id, ok: true, data, dims: output.dims, ...(embedding ? { embedding } : {}) },
        embedding ? [data.buffer as ArrayBuffer, embedding.data.buffer as ArrayBuffer] : [data.buffer as ArrayBuffer],
      ];
    }
    case 'release': {
      const released = session(request.session);
      sessions.delete(request.session);
      await released.release();
      return [{ id: request.id, ok: true }, []];
    }
  }
}

// onnxruntime is loaded (module imports above): the thread can take work.
port.postMessage({ ready: true });

port.on('message', (request: ThreadRequest) => {
  handle(request).then(
    ([reply, transfer]) => port.postMessage(reply, transfer),
    (error: unknown) =>
      port.postMessage({
        id: request.id,
        ok: false,
        message: error instanceof Error ? error.message : String(error),
      } satisfies ThreadReply),
  );
});
