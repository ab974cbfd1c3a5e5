/**
 * Runs inside a decode-pool thread: the same decoders and PIL-exact preprocessing as on the HTTP thread
 * (createImageSupport), one image at a time, written straight into the batch tensor's shared memory.
 */
import { parentPort } from 'node:worker_threads';
import { createImageSupport, writeImage } from '../../core/model-input/image-input.js';
import { CodedError } from '../../core/errors.js';
import { apiError } from '../../service/problems.js';
import { loadImageWasmModules } from './image-wasm.js';
import type { DecodeReply, DecodeRequest } from './decode-protocol.js';

const port = parentPort!;
const codec = createImageSupport(await loadImageWasmModules());
const clock = () => performance.now();

async function handle(request: DecodeRequest): Promise<DecodeReply> {
  try {
    const out = new Float32Array(request.out, request.offset * 4, request.elements);
    const timing = await writeImage(codec, request.bytes, request.job, out, 0, clock);
    return { id: request.id, ok: true, timing };
  } catch (error) {
    if (error instanceof CodedError) {
      const { code, message, details, headers } = apiError(error);
      return { id: request.id, ok: false, problem: { code, message, details, headers } };
    }
    return { id: request.id, ok: false, bug: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
}

// The decoders are compiled: the thread can take work.
port.postMessage({ ready: true });
// One image at a time, in arrival order: the pool sends the next before this one is done, so it is already here.
let chain: Promise<void> = Promise.resolve();
port.on('message', (request: DecodeRequest) => {
  chain = chain.then(() => handle(request)).then((reply) => port.postMessage(reply));
});
