/**
 * bench:node's CPU arithmetic (scripts/bench/lib/cpu-report.ts): cores busy and CPU ms per image from an account, the
 * ceiling cores ÷ CPU seconds per image, and the verdict on a ratio target. Figures chosen so the answers are exact.
 */
import { describe, expect, it } from 'vitest';
import { boundLine, ratioBound, summarizeCpu } from '../../../scripts/bench/lib/cpu-report.js';
import type { CpuAccount } from '../../../scripts/bench/lib/proc-cpu.js';

/** A 10 s run on 2 cores: the server used 15 CPU s, the client 1, other jobs 2, over `ok` images. */
const account = (decode: number, machine = 18.5): CpuAccount => ({
  wallS: 10,
  server: { http: 3, inference: 4, decode, other: 8 - decode, total: 15 },
  client: 1,
  idleServers: 0.5,
  machine,
  cores: 2,
});

describe('summarizeCpu', () => {
  it('gives cores busy, CPU ms per image and the ceiling', () => {
    const cpu = summarizeCpu([{ ok: 1000, cpu: account(6) }])!;
    expect(cpu.coresBusy).toMatchObject({ server: 1.5, http: 0.3, decode: 0.6, client: 0.1, machine: 1.85 });
    expect(cpu.coresBusy.outside).toBeCloseTo(0.2, 9);
    expect(cpu.msPerImage).toMatchObject({ http: 3, inference: 4, decode: 6, other: 2, client: 1, total: 16 });
    expect(cpu.ceiling).toBeCloseTo(2000 / 16, 9); // 125 img/s
    expect(cpu.ceilingFree).toBeCloseTo(1800 / 16, 9); // the 0.2 cores other jobs took are not ours
  });

  it('takes medians over rounds and skips runs without CPU figures or answers', () => {
    const cpu = summarizeCpu([
      { ok: 1000, cpu: account(6) },
      { ok: 500, cpu: account(6) },
      { ok: 2000, cpu: account(6) },
      { ok: 0, cpu: account(6) },
      { ok: 1000 },
    ])!;
    expect(cpu.msPerImage.total).toBe(16);
    expect(summarizeCpu([{ ok: 1000 }])).toBeUndefined();
  });
});

describe('ratioBound and boundLine', () => {
  it('bounds the ratio by what the cores allow at each run’s CPU per image', () => {
    const one = { label: '1', imagesPerSecond: 100, cpu: summarizeCpu([{ ok: 1000, cpu: account(6) }])! };
    const two = { label: '2', imagesPerSecond: 110, cpu: summarizeCpu([{ ok: 1250, cpu: account(6) }])! };
    const bound = ratioBound(one, two);
    expect(bound.atFromCost).toBeCloseTo(1.25, 9); // 2 cores ÷ 16 ms = 125 img/s
    expect(bound.atOwnCost).toBeCloseTo(2000 / 12.8 / 100, 9); // 12.8 ms/image: 156 img/s
    expect(boundLine(1.4, one, two)).toContain('→ within the bound');
    expect(boundLine(1.6, one, two)).toContain('→ beyond what these cores allow');
    expect(boundLine(1.4, one, two)).toContain('1.4× = 140.0 img/s needs ≤ 14.3 CPU ms/image on 2 cores');
  });

  it('says when other jobs took cores during the runs, and not when the machine was quiet', () => {
    const run = (machine: number) => ({
      label: 'run',
      imagesPerSecond: 100,
      cpu: summarizeCpu([{ ok: 1000, cpu: account(6, machine) }])!,
    });
    expect(boundLine(1.4, run(18.5), run(18.5))).toContain('NOT a quiet window: other jobs took 0.20 and 0.20 cores');
    expect(boundLine(1.4, run(16.5), run(16.5))).not.toContain('quiet');
  });
});
