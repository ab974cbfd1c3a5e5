/**
 * `npm start` (scripts/start.ts) as a real process on a free port, for tests that drive the local emulator over
 * real HTTP: spawned as `npm start` runs it (tsx), ready when it prints `Ready on URL`, stopped with SIGTERM.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const START_ARGS = ['--import', 'tsx', path.join(repoRoot, 'scripts/start.ts')];

export interface NpmStart {
  url: URL;
  /** Everything it printed so far (stdout and stderr), for failure messages and log checks. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `npm start -- --port 0 --models DIR --var NAME:VALUE…` and waits until it is ready. */
export async function startNpmStart(modelsDir: string, vars: Readonly<Record<string, string>>): Promise<NpmStart> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      ...START_ARGS,
      ...['--port', '0', '--models', modelsDir],
      ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const url = await new Promise<URL>((resolve, reject) => {
    const onData = (data: Buffer) => {
      output += data.toString();
      const ready = /Ready on (http:\/\/\S+)/.exec(output);
      if (ready) resolve(new URL(ready[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`npm start exited ${code} before ready:\n${output}`)));
  });
  return {
    url,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
