/**
 * bench:edge's mixed-models scenario (`--mixed K`, when m0 and m1 are both named): one fresh workerd, after 3
 * untimed requests per model, K requests of m0 alone, K alternating m0/m1, then 2K of m0 alone and 2K picked at random
 * 50/50, each 4 at a time. Per phase: p50/p90 end to end, every answer's top-1 against its model's first, and an
 * isolate memory sample (both edge models stay resident: MAX_LOADED_MODELS = 2).
 */
import { classify } from '../lib/classify.js';
import { median, percentile } from '../lib/stats.js';
import { startWorkerd } from '../lib/workerd.js';
import { type ImageKey, MiB, type Target, WORKER_NAME } from './setup.js';

export interface MixedPhase {
  name: string;
  concurrency: number;
  e2eMs: number[];
  p50Ms: number;
  p90Ms: number;
  /** Isolate memory (MiB) sampled right after the phase. */
  isolateMiB: number;
  /** Every answer's top-1 equal to the one its model gave first. */
  correct: boolean;
}

export interface Mixed {
  image: ImageKey;
  phases: MixedPhase[];
}

export async function runMixed(requests: number, { worker, image, bytes }: Target): Promise<Mixed> {
  const workerd = await startWorkerd(worker, WORKER_NAME);
  try {
    const expected = new Map<string, number>();
    let correct = true;
    const one = async (model: string) => {
      const run = await classify(workerd.url, model, bytes);
      if (!expected.has(model)) expected.set(model, run.top1);
      if (expected.get(model) !== run.top1) correct = false;
      return run.e2eMs;
    };
    for (let i = 0; i < 3; i++) for (const model of ['m1', 'm0']) await one(model);
    let seed = 14;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const plan = (name: string, concurrency: number, count: number, pick: (i: number) => string) => ({
      name,
      concurrency,
      models: Array.from({ length: count }, (_, i) => pick(i)),
    });
    const plans = [
      plan('m0 alone', 1, requests, () => 'm0'),
      plan('alternating m0/m1', 1, requests, (i) => (i % 2 ? 'm1' : 'm0')),
      plan('m0 alone', 4, 2 * requests, () => 'm0'),
      plan('random 50/50', 4, 2 * requests, () => (random() < 0.5 ? 'm0' : 'm1')),
    ];
    const phases: MixedPhase[] = [];
    for (const { name, concurrency, models } of plans) {
      correct = true;
      const e2eMs: number[] = [];
      let next = 0;
      const lane = async () => {
        while (next < models.length) e2eMs.push(await one(models[next++]));
      };
      await Promise.all(Array.from({ length: concurrency }, lane));
      const isolateMiB = (await workerd.probe!.sample()).totalBytes / MiB;
      phases.push({
        name,
        concurrency,
        e2eMs,
        p50Ms: median(e2eMs),
        p90Ms: percentile(e2eMs, 0.9),
        isolateMiB,
        correct,
      });
    }
    return { image, phases };
  } finally {
    await workerd.dispose();
  }
}
