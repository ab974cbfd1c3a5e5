/**
 * bench:edge's cold-start scenario (`--cold N`): N fresh workerd processes running the deployed entry (the default
 * model's session created at isolate start-up, docs/decisions/startup-session.md), each answering one cold request,
 * then requests 2–5, then 5 untimed and 10 timed warm ones (requests 11–20). Per process: start-up time and CPU when
 * ready (workerd's own threads, where the global scope runs against Cloudflare's 1 s start-up limit, apart from V8's
 * background compiler threads), the cold request end to end with its stages, and where requests 2–5 spend their time.
 */
import type { ManifestModel } from '../../../worker/core/manifest/manifest.js';
import { classify } from '../lib/classify.js';
import { cpuMs, startWorkerd } from '../lib/workerd.js';
import type { ImageKey, Target } from './setup.js';

/** The entry measured, named as the JSON of runs that alternated it with its baseline named it. */
const ENTRY = 'start-up session';
export const FOLLOWING_REQUESTS = 4;
const LATER_UNTIMED = 5;
const LATER_TIMED = 10;

export interface ColdStarts {
  image: ImageKey;
  model: string;
  entry: string;
  startupMs: number[];
  startupCpuMs: number[];
  startupV8BackgroundMs: number[];
  runs: {
    e2eMs: number;
    modelWaitMs: number;
    sessionMs: number;
    firstRunMs: number;
    /** Requests 2–5 end to end, and their inference and decode + preprocess from `timing`. */
    nextMs: number[];
    nextInferenceMs: number[];
    nextDecodePrepMs: number[];
    /** Requests 11–20, end to end: the same process warm. */
    laterMs: number[];
  }[];
}

export async function runColdStarts(
  count: number,
  { worker, image, bytes }: Target,
  entry: ManifestModel,
): Promise<ColdStarts> {
  const result: ColdStarts = {
    image,
    model: entry.name,
    entry: ENTRY,
    startupMs: [],
    startupCpuMs: [],
    startupV8BackgroundMs: [],
    runs: [],
  };
  for (let i = 0; i < count; i++) {
    const workerd = await startWorkerd(worker);
    const send = () => classify(workerd.url, entry.name, bytes);
    try {
      const cpu = cpuMs(workerd.pid);
      result.startupMs.push(workerd.startupMs);
      result.startupCpuMs.push(cpu.isolate);
      result.startupV8BackgroundMs.push(cpu.v8Background);
      const cold = await send();
      const next = [];
      for (let j = 0; j < FOLLOWING_REQUESTS; j++) next.push(await send());
      for (let j = 0; j < LATER_UNTIMED; j++) await send();
      const laterMs: number[] = [];
      for (let j = 0; j < LATER_TIMED; j++) laterMs.push((await send()).e2eMs);
      result.runs.push({
        e2eMs: cold.e2eMs,
        modelWaitMs: cold.timing.model_wait_ms ?? 0,
        sessionMs: cold.timing.session_ms ?? 0,
        firstRunMs: cold.timing.inference_ms,
        nextMs: next.map((run) => run.e2eMs),
        nextInferenceMs: next.map((run) => run.timing.inference_ms),
        nextDecodePrepMs: next.map((run) => run.timing.decode_ms + run.timing.preprocess_ms),
        laterMs,
      });
    } finally {
      await workerd.dispose();
    }
  }
  return result;
}
