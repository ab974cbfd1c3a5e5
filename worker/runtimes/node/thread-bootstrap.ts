/**
 * Node only: the source of a worker thread that runs a TypeScript entry like the rest of the server. Node 20 resolves
 * a worker's entry before any `--import` loader applies to it, so a small script registers tsx in the thread first,
 * then imports the real entry. Start it with `new Worker(threadBootstrap(url, name), { eval: true })`.
 */
import type { Worker } from 'node:worker_threads';

export function threadBootstrap(entry: URL, name: string): string {
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  // The OS thread name (Linux; at most 15 bytes), so top -H and bench:node's CPU accounting can tell the threads apart:
  // Node 20 leaves every thread named after the process, and Worker's `name` option does not reach the OS. Set first,
  // so the threads this one starts (onnxruntime's intra-op pool) inherit it. Best effort: elsewhere nothing happens.
  const nameIt = `try { process.getBuiltinModule('node:fs').writeFileSync('/proc/thread-self/comm', ${JSON.stringify(name.slice(0, 15))}); } catch {}`;
  return `${nameIt} import(${tsx}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`;
}

/**
 * Resolves when the thread posts its first message (it has loaded what it needs); rejects, naming `what`, if it errors
 * or exits first, so a broken setup fails at start rather than on a request.
 */
export function threadStarted(worker: Worker, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => reject(new Error(`${what} did not start: ${error.message}`, { cause: error }));
    const exited = (code: number) => failed(new Error(`it exited with code ${code}`));
    worker.once('error', failed);
    worker.once('exit', exited);
    worker.once('message', () => {
      worker.off('error', failed);
      worker.off('exit', exited);
      resolve();
    });
  });
}
