/**
 * bench:edge's isolate memory scenario, what the 128 MB per-isolate limit is about: the JS heap, ArrayBuffers and
 * every wasm memory, read through workerd's inspector (lib/isolate-memory.ts) after requests. The workerd process's
 * RSS is reported beside it, but it also holds the runtime and V8's machine code for the wasm modules (~200 MiB),
 * which are not the isolate's allocations.
 */
import type { IsolateMemoryProbe, IsolateMemorySample } from '../lib/isolate-memory.js';
import { MiB } from './setup.js';

export interface IsolateMemory {
  /** Largest sample (JS heap + ArrayBuffers before collection + wasm memories) after the cold and the memory-pass requests. */
  peakMiB: number;
  /** onnxruntime's wasm memory and the other wasm memories (decoders) in that sample. */
  onnxruntimeWasmMiB: number;
  otherWasmMiB: number;
  /** After a full collection at the end of the cell. */
  retainedMiB: number;
  samples: IsolateMemorySample[];
}

/** `requests` untimed requests, each followed by a sample: a sample runs a full collection, so never in timed work. */
export async function samplesAfter(
  probe: IsolateMemoryProbe,
  requests: number,
  send: () => Promise<unknown>,
): Promise<IsolateMemorySample[]> {
  const samples: IsolateMemorySample[] = [];
  for (let i = 0; i < requests; i++) {
    await send();
    samples.push(await probe.sample());
  }
  return samples;
}

export function isolateMemory(samples: IsolateMemorySample[]): IsolateMemory {
  const peak = samples.reduce((a, b) => (b.totalBytes > a.totalBytes ? b : a));
  // onnxruntime's memory is by far the largest; the decoders' are a few MiB.
  const [onnxruntime = 0, ...others] = peak.wasmMemoryBytes;
  return {
    peakMiB: peak.totalBytes / MiB,
    onnxruntimeWasmMiB: onnxruntime / MiB,
    otherWasmMiB: others.reduce((a, b) => a + b, 0) / MiB,
    retainedMiB: samples[samples.length - 1].retainedBytes / MiB,
    samples,
  };
}
