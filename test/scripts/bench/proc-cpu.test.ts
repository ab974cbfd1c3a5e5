/**
 * bench:node's CPU accounting (scripts/bench/lib/proc-cpu.ts) against this process's real /proc entries: the parser reads
 * sane fields, the tick scaling agrees with Node's own process.cpuUsage(), and CPU time grows with busy work. The
 * server's thread names are checked too, since the per-role split depends on them.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  clockTicksPerSecond,
  parseMachineStat,
  parseStat,
  readMachineCpu,
  readProcessCpu,
  roleCpuBetween,
  roleOf,
} from '../../../scripts/bench/lib/proc-cpu.js';
import { createDecodePool } from '../../../worker/runtimes/node/decode-pool.js';
import { createThreadedOrtNodeBackend } from '../../../worker/runtimes/node/threaded-backend.js';

const linux = process.platform === 'linux';

/** Spins this thread until Node says the process used `ms` more CPU. */
function burn(ms: number): void {
  const start = process.cpuUsage();
  let x = 0;
  for (;;) {
    for (let i = 0; i < 100_000; i++) x += Math.sqrt(i);
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) break;
  }
  expect(x).toBeGreaterThan(0);
}

describe('parseStat', () => {
  it('takes the name up to the last parenthesis, whatever it holds', () => {
    const line = '42 (a) b (c) S 1 42 42 0 -1 4194304 10 0 0 0 731 52 0 0 20 0 3 0 100 1000 10 0';
    expect(parseStat(line)).toEqual({ name: 'a) b (c', utime: 731, stime: 52 });
  });

  it('rejects what is not a stat line', () => {
    expect(() => parseStat('no parentheses here')).toThrow(/not a \/proc stat line/);
  });

  it.runIf(linux)('reads this process: its name, and CPU counts that are whole ticks', () => {
    const stat = parseStat(readFileSync('/proc/self/stat', 'utf8'));
    expect(stat.name.length).toBeGreaterThan(0);
    expect(stat.name.length).toBeLessThanOrEqual(15);
    expect(Number.isSafeInteger(stat.utime) && Number.isSafeInteger(stat.stime)).toBe(true);
  });
});

describe.runIf(linux)('readProcessCpu', () => {
  it('agrees with process.cpuUsage() and grows with busy work on the calling thread', () => {
    burn(50);
    const before = readProcessCpu(process.pid)!;
    const node = process.cpuUsage();
    // Same clock, read back to back: they differ by the tick resolution (10 ms at USER_HZ 100) and rounding, not by
    // a factor, which is what a wrong tick rate would give.
    const nodeS = (node.user + node.system) / 1e6;
    expect(Math.abs(before.cpuS - nodeS)).toBeLessThan(0.1 + 0.05 * nodeS);
    const main = (reading: typeof before) => reading.threads.find((thread) => thread.tid === process.pid)!;
    expect(roleOf(process.pid, main(before))).toBe('http');

    burn(300);
    const after = readProcessCpu(process.pid)!;
    expect(main(after).cpuS).toBeGreaterThan(main(before).cpuS);
    expect(after.cpuS).toBeGreaterThanOrEqual(before.cpuS + main(after).cpuS - main(before).cpuS - 0.02);
    const roles = roleCpuBetween(process.pid, before, after);
    expect(roles.http).toBeGreaterThan(0);
    // The roles cover the process's total; per-thread ticks round apart, so they may pass it by a tick a thread.
    const sum = roles.http + roles.inference + roles.decode + roles.other;
    expect(sum).toBeGreaterThanOrEqual(after.cpuS - before.cpuS - 1e-9);
    expect(sum).toBeLessThanOrEqual(after.cpuS - before.cpuS + after.threads.length / clockTicksPerSecond() + 1e-9);
  });

  it('names a decode pool’s threads, so their time counts as decode', async () => {
    const pool = await createDecodePool({ threads: 2, maxQueue: 8 });
    try {
      const threads = readProcessCpu(process.pid)!.threads;
      const decode = threads.filter((thread) => roleOf(process.pid, thread) === 'decode').map((thread) => thread.name);
      // Each also starts tsx's module-hooks thread, which inherits its name: startup work, decode's all the same.
      expect([...new Set(decode)].sort()).toEqual(['decode-1', 'decode-2']);
    } finally {
      await pool.close();
    }
  });

  it('names the inference thread, so its time (and its intra-op threads’) counts as inference', async () => {
    const backend = await createThreadedOrtNodeBackend({ device: 'cpu', threads: 1 });
    try {
      const roles = readProcessCpu(process.pid)!.threads.map((thread) => roleOf(process.pid, thread));
      expect(roles).toContain('inference');
    } finally {
      await backend.terminate();
    }
  });

  it('answers undefined for a process that does not exist', () => {
    expect(readProcessCpu(2 ** 22 + 1)).toBeUndefined();
  });
});

describe('roleCpuBetween', () => {
  it('counts new threads from zero and gives what exited threads used to other', () => {
    const pid = 10;
    const before = {
      cpuS: 5,
      threads: [
        { tid: 10, name: 'node', cpuS: 2 },
        { tid: 11, name: 'decode-1', cpuS: 1 },
        { tid: 12, name: 'decode-2', cpuS: 1 }, // exits in between
      ],
    };
    const after = {
      cpuS: 9,
      threads: [
        { tid: 10, name: 'node', cpuS: 3 },
        { tid: 11, name: 'decode-1', cpuS: 2.5 },
        { tid: 13, name: 'decode-2', cpuS: 0.5 }, // its replacement
        { tid: 14, name: 'inference', cpuS: 0.25 },
      ],
    };
    expect(roleCpuBetween(pid, before, after)).toEqual({ http: 1, decode: 2, inference: 0.25, other: 0.75 });
  });
});

describe('parseMachineStat', () => {
  it('sums busy time without counting guest time twice', () => {
    // user nice system idle iowait irq softirq steal guest guest_nice, in ticks
    const stat = parseMachineStat('cpu  100 10 50 800 40 5 5 0 30 0\ncpu0 50 5 25 400 20 2 3 0 15 0\n');
    const hz = clockTicksPerSecond();
    expect(stat.busyS * hz).toBeCloseTo(170, 6);
    expect(stat.totalS * hz).toBeCloseTo(1010, 6);
  });

  it.runIf(linux)('reads this machine: busy time below the total, both positive', () => {
    const machine = readMachineCpu()!;
    expect(machine.busyS).toBeGreaterThan(0);
    expect(machine.totalS).toBeGreaterThan(machine.busyS);
  });
});
