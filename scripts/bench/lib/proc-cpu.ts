/**
 * CPU time from Linux's /proc, for bench:node's accounting: a process's user+sys time, split per thread by the OS
 * thread names the server sets (worker/runtimes/node/thread-bootstrap.ts), and the whole machine's busy time (which also sees
 * other jobs on a shared machine). Linux only: elsewhere the readers return undefined and the bench reports no CPU.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface StatFields {
  /** The thread's (or process's) name, `comm`: at most 15 bytes, may hold spaces and parentheses. */
  name: string;
  /** User and system CPU time, in clock ticks (USER_HZ). */
  utime: number;
  stime: number;
}

/** Parses /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat (proc(5)): `pid (comm) state … utime stime …`. */
export function parseStat(text: string): StatFields {
  // comm can hold ") ", so it ends at the last ')'; fields after it are numbered from 3 (state).
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`not a /proc stat line: ${text.slice(0, 80)}`);
  const rest = text
    .slice(close + 2)
    .trim()
    .split(' ');
  const field = (n: number) => {
    const value = Number(rest[n - 3]);
    if (!Number.isSafeInteger(value) || value < 0)
      throw new Error(`/proc stat field ${n} is not a count: ${rest[n - 3]}`);
    return value;
  };
  return { name: text.slice(open + 1, close), utime: field(14), stime: field(15) };
}

let ticksPerSecond: number | undefined;
/** USER_HZ: 100 on every Linux build in practice, but asked for rather than assumed. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

const ticksToS = (ticks: number) => ticks / clockTicksPerSecond();

export interface ThreadCpu {
  tid: number;
  name: string;
  /** CPU seconds (user + sys) since the thread started. */
  cpuS: number;
}

export interface ProcessCpu {
  /** The whole process, threads that have exited included. */
  cpuS: number;
  threads: ThreadCpu[];
}

/** A process's CPU time and its live threads'; undefined if it is gone (or this is not Linux). */
export function readProcessCpu(pid: number): ProcessCpu | undefined {
  try {
    const whole = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    const threads: ThreadCpu[] = [];
    for (const entry of readdirSync(`/proc/${pid}/task`)) {
      try {
        const stat = parseStat(readFileSync(`/proc/${pid}/task/${entry}/stat`, 'utf8'));
        threads.push({ tid: Number(entry), name: stat.name, cpuS: ticksToS(stat.utime + stat.stime) });
      } catch {
        // The thread exited between the listing and the read: its time is in the process's total.
      }
    }
    return { cpuS: ticksToS(whole.utime + whole.stime), threads };
  } catch {
    return undefined;
  }
}

/** The bench's roles for a server's threads (names from worker/runtimes/node: `inference`, `decode-N`). */
export type Role = 'http' | 'inference' | 'decode' | 'other';
export const ROLES: readonly Role[] = ['http', 'inference', 'decode', 'other'];

/**
 * The main thread (tid = pid) runs the HTTP event loop, the batcher and the pipeline; `other` is V8's platform
 * threads (GC, compilation) and libuv's pool, which serve every thread of the process.
 */
export function roleOf(pid: number, thread: Pick<ThreadCpu, 'tid' | 'name'>): Role {
  if (thread.tid === pid) return 'http';
  if (thread.name === 'inference') return 'inference';
  if (thread.name.startsWith('decode-')) return 'decode';
  return 'other';
}

/**
 * CPU seconds per role between two readings of one process. Threads seen only in `after` started in between and
 * count from zero; `other` also takes what the per-thread sums miss (threads that exited), so the roles cover the
 * process's total (and may pass it by a tick a thread: each thread's time rounds apart).
 */
export function roleCpuBetween(pid: number, before: ProcessCpu, after: ProcessCpu): Record<Role, number> {
  const earlier = new Map(before.threads.map((thread) => [thread.tid, thread.cpuS]));
  const roles: Record<Role, number> = { http: 0, inference: 0, decode: 0, other: 0 };
  for (const thread of after.threads)
    roles[roleOf(pid, thread)] += Math.max(0, thread.cpuS - (earlier.get(thread.tid) ?? 0));
  const total = after.cpuS - before.cpuS;
  roles.other += Math.max(0, total - (roles.http + roles.inference + roles.decode + roles.other));
  return roles;
}

export interface MachineCpu {
  /** Busy CPU seconds summed over all cores (user, nice, system, irq, softirq, steal) since boot. */
  busyS: number;
  /** Busy + idle + iowait. */
  totalS: number;
}

/** The first line of /proc/stat: every core's time since boot. */
export function parseMachineStat(text: string): MachineCpu {
  const line = text.split('\n').find((candidate) => candidate.startsWith('cpu '));
  if (!line) throw new Error('no "cpu" line in /proc/stat');
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  // guest time is already inside user and nice.
  const busy = user + nice + system + irq + softirq + (steal ?? 0);
  return { busyS: ticksToS(busy), totalS: ticksToS(busy + idle + iowait) };
}

export function readMachineCpu(): MachineCpu | undefined {
  try {
    return parseMachineStat(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** CPU seconds over one measured window, by whom; undefined fields where /proc is missing. */
export interface CpuAccount {
  wallS: number;
  /** The measured server process, per role and in all. */
  server: Record<Role, number> & { total: number };
  /** The load generator: this (the bench) process, autocannon included. */
  client: number;
  /** The run's other servers, idle meanwhile. */
  idleServers: number;
  /** Every core of the machine, other jobs included. */
  machine?: number;
  /** The machine's cores. */
  cores: number;
}

/**
 * Starts a window over `pid` (the server measured), `idlePids` (the others) and this process; end() returns what each
 * used meanwhile, or undefined if the server's /proc entry could not be read (not Linux, or it exited).
 */
export function startCpuWindow(pid: number, idlePids: number[], cores: number) {
  const idleCpu = () => idlePids.reduce((total, other) => total + (readProcessCpu(other)?.cpuS ?? 0), 0);
  const server = readProcessCpu(pid);
  const idle = idleCpu();
  const machine = readMachineCpu();
  const client = process.cpuUsage();
  const started = performance.now();
  return {
    end(): CpuAccount | undefined {
      const wallS = (performance.now() - started) / 1000;
      const clientUsed = process.cpuUsage(client);
      const machineAfter = readMachineCpu();
      const serverAfter = readProcessCpu(pid);
      if (!server || !serverAfter) return undefined;
      return {
        wallS,
        server: { ...roleCpuBetween(pid, server, serverAfter), total: serverAfter.cpuS - server.cpuS },
        client: (clientUsed.user + clientUsed.system) / 1e6,
        idleServers: idleCpu() - idle,
        machine: machine && machineAfter ? machineAfter.busyS - machine.busyS : undefined,
        cores,
      };
    },
  };
}
