/**
 * The deployed Workers entry (wrangler.toml `main`): workerd.ts's handler with the default model's onnxruntime session
 * created during isolate start-up, so a fresh isolate's first request finds it ready. Cloudflare starts an isolate
 * while the TLS handshake runs, which hides start-up work from that request; start-up may take 1 s of CPU, and this
 * costs ~0.5 s of it on this project's 2-core machines (docs/performance.md, "start-up session").
 *
 * Global scope can do no I/O, so the model cannot come from Static Assets: startup-model.ts bundles DEFAULT_MODEL's
 * file into the script as a Data module (scripts/lib/local-edge.ts swaps in the served folder's). The registry adopts the
 * session only for the manifest entry whose size and sha256 match these bytes, so a stale copy costs start-up time,
 * never a wrong answer.
 */
import startupModel from './startup-model.js';
import ortWasm from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';
import { createOrtWebBackend } from '../../core/inference/ort-web.js';
import type { StartupModel } from '../../service/registry/registry.js';
import { createWorkerdHandler } from './handler.js';

/** No bytes: the local emulator serves a folder without DEFAULT_MODEL (scripts/lib/local-edge.ts). */
async function createStartupModel(): Promise<StartupModel | undefined> {
  if (startupModel.byteLength === 0) return undefined;
  const bytes = new Uint8Array(startupModel);
  const session = createOrtWebBackend(ortWasm).load(bytes);
  // Start-up waits for the session; if it failed, the first request loads the model from its file as usual.
  await session.catch(() => undefined);
  return { bytes, session };
}

export default createWorkerdHandler(await createStartupModel());
