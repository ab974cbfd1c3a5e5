/** The Node build's entry (`npm run start:node`) as a child process, with its output and the URL it listens on. */
import { type ChildProcess, spawn } from 'node:child_process';
import { repoRoot } from '../service/conformance/models.js';

/** `npm run start:node`'s entry, run directly (`command`: another way to start it, e.g. through npm). */
export function spawnEntry(
  args: string[],
  env: Record<string, string> = {},
  command: string[] = [process.execPath, '--import', 'tsx', 'scripts/start-node.ts'],
): { child: ChildProcess; output: () => string; url: Promise<string>; exited: Promise<number | null> } {
  const child = spawn(command[0], [...command.slice(1), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  // 'close', not 'exit': it comes after the child's last output has been read.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`server exited with ${code} before listening:\n${output}`)));
  });
  url.catch(() => undefined); // a test that expects the exit does not await it
  return { child, output: () => output, url, exited };
}
