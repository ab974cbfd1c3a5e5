/**
 * Node only: which onnxruntime-node execution device serves the models, decided once at start. The choices are
 * tables (as in transformers.js's backends/onnx.js): each --device value lists the devices to try, in order, and
 * the first whose session loads and runs a real model wins. Why each earlier one was passed over is kept, logged
 * and shown in /v1/models.
 */
import type { InferenceBackend } from '../../core/inference/backend.js';
import type { NodeDevice } from './inference/ort-node.js';

export type DeviceRequest = 'cpu' | 'cuda' | 'auto';

export const DEVICE_REQUESTS: readonly DeviceRequest[] = Object.freeze(['cpu', 'cuda', 'auto']);

/** Devices tried for each request, in order. CUDA needs the separately installed provider (docs/node.md). */
export const DEVICE_CANDIDATES: Readonly<Record<DeviceRequest, readonly NodeDevice[]>> = Object.freeze({
  cpu: Object.freeze(['cpu'] as const),
  cuda: Object.freeze(['cuda', 'cpu'] as const),
  auto: Object.freeze(['cuda', 'cpu'] as const),
});

/** How loudly a fallback is logged: asking for CUDA and not getting it deserves a warning; 'auto' expects it may not. */
export const FALLBACK_LOG_LEVEL: Readonly<Record<DeviceRequest, 'warn' | 'info'>> = Object.freeze({
  cpu: 'info',
  cuda: 'warn',
  auto: 'info',
});

/** A real model to try each device on: its ONNX bytes and one input shape [1, C, H, W]. */
export interface ProbeModel {
  name: string;
  bytes: Uint8Array;
  inputDims: readonly number[];
}

export interface DeviceAttempt {
  device: NodeDevice;
  ok: boolean;
  /** The error that ruled the device out. */
  error?: string;
}

/** A backend for one device; `terminate` (when present) frees one that lost. */
export type DeviceBackend = InferenceBackend & { terminate?(): Promise<void> };

export interface DeviceChoice<B extends DeviceBackend = DeviceBackend> {
  requested: DeviceRequest;
  device: NodeDevice;
  backend: B;
  /** One sentence: why this device serves. */
  reason: string;
  attempts: DeviceAttempt[];
}

const firstLine = (error: unknown) => (error instanceof Error ? error.message : String(error)).split('\n')[0].trim();

async function tryDevice(backend: InferenceBackend, probe: ProbeModel): Promise<void> {
  const session = await backend.load(probe.bytes);
  try {
    const elements = probe.inputDims.reduce((product, size) => product * size, 1);
    await session.run(new Float32Array(elements), probe.inputDims);
  } finally {
    await session.release();
  }
}

/**
 * The last candidate is taken without a probe: it is the fallback, and if even it cannot run the probe model, that
 * model is broken, which the registry reports per request (503) rather than by refusing to start.
 */
export async function chooseDevice<B extends DeviceBackend>(
  requested: DeviceRequest,
  /** Read only when a device has to be tried. */
  probeModel: () => Promise<ProbeModel | undefined>,
  createBackend: (device: NodeDevice) => Promise<B>,
  /** Why a device cannot work, known without asking onnxruntime (whose own failure prints a red native error). */
  unavailable: (device: NodeDevice) => string | undefined = () => undefined,
): Promise<DeviceChoice<B>> {
  const candidates = DEVICE_CANDIDATES[requested];
  const attempts: DeviceAttempt[] = [];
  for (const [index, device] of candidates.entries()) {
    const last = index === candidates.length - 1;
    const missing = last ? undefined : unavailable(device);
    if (missing) {
      attempts.push({ device, ok: false, error: missing });
      continue;
    }
    const backend = await createBackend(device);
    if (last) {
      attempts.push({ device, ok: true });
      const passedOver = attempts.filter((attempt) => !attempt.ok);
      const reason =
        passedOver.length === 0
          ? `${device} was requested`
          : `${device} is the fallback: ${passedOver.map((attempt) => `${attempt.device} failed (${attempt.error})`).join('; ')}`;
      return { requested, device, backend, reason, attempts };
    }
    try {
      const probe = await probeModel();
      if (!probe) throw new Error('no model to try it on (the manifest lists none that can be read)');
      await tryDevice(backend, probe);
      attempts.push({ device, ok: true });
      return { requested, device, backend, reason: `${device} ran ${probe.name}`, attempts };
    } catch (error) {
      attempts.push({ device, ok: false, error: firstLine(error) });
      await backend.terminate?.();
    }
  }
  throw new Error(`no device candidates for ${requested}`);
}
