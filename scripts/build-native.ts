/**
 * `npm run build:native [-- --strict]`: builds the Node build's native JPEG decoder and preprocessing
 * (worker/runtimes/node/jpeg-addon/addon.c → build/jpeg.node) with the machine's C compiler, against Node's own
 * headers and the system's libjpeg-turbo. No node-gyp: it would download Node's headers, and a Node install carries
 * them (<prefix>/include/node).
 *
 * Needs: a C compiler (`$CC`, else cc, gcc or clang), Node's headers, libjpeg-turbo's headers and library
 * (Debian/Ubuntu: apt-get install gcc libjpeg62-turbo-dev). Without them it says what is missing and exits 0: the
 * Node build then decodes with wasm. --strict: exit 1 instead (the Docker image, where native is the point).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runCli } from './lib/cli.js';
import { ADDON_PATH } from '../worker/runtimes/node/jpeg-addon/index.js';

const USAGE = `npm run build:native [-- --strict]

Builds worker/runtimes/node/jpeg-addon/build/jpeg.node (libjpeg-turbo decoder + PIL-exact resize for the Node build).
Without a C compiler, Node's headers or libjpeg-turbo's headers it prints why and exits 0 (wasm is used instead).

  --strict   exit 1 when it cannot be built`;

const SOURCE = path.join(path.dirname(path.dirname(ADDON_PATH)), 'addon.c');

export type BuildResult = { ok: true; path: string; compiler: string } | { ok: false; reason: string };

function works(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function findCompiler(env: NodeJS.ProcessEnv): string | undefined {
  const candidates = env.CC ? [env.CC] : ['cc', 'gcc', 'clang'];
  return candidates.find((cc) => works(cc, ['--version']));
}

/** Node's headers: beside the running node (<prefix>/bin/node → <prefix>/include/node), or where npm was told. */
function findNodeHeaders(env: NodeJS.ProcessEnv): string | undefined {
  const candidates = [
    env.npm_config_nodedir && path.join(env.npm_config_nodedir, 'include/node'),
    path.resolve(path.dirname(process.execPath), '../include/node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ];
  return candidates.find((dir) => dir && existsSync(path.join(dir, 'node_api.h'))) || undefined;
}

/** Compiles and links the add-on; never throws for a missing tool, only says what is missing. */
export function buildNative(env: NodeJS.ProcessEnv = process.env): BuildResult {
  const cc = findCompiler(env);
  if (!cc) return { ok: false, reason: 'no C compiler (set CC, or install gcc)' };
  const headers = findNodeHeaders(env);
  if (!headers) return { ok: false, reason: `no Node headers (node_api.h) beside ${process.execPath}` };
  mkdirSync(path.dirname(ADDON_PATH), { recursive: true });
  const temporary = `${ADDON_PATH}.${process.pid}.tmp`;
  // -ffp-contract=off: no fused multiply-add, so the resize's double arithmetic is JavaScript's, to the bit.
  const args = [
    '-shared',
    '-fPIC',
    '-O2',
    '-ffp-contract=off',
    '-fvisibility=hidden',
    '-DNODE_GYP_MODULE_NAME=jpeg_addon',
    `-I${headers}`,
    SOURCE,
    '-o',
    temporary,
    '-ljpeg',
    '-lm',
  ];
  try {
    execFileSync(cc, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '');
    if (/jpeglib\.h/.test(stderr))
      return { ok: false, reason: 'no libjpeg-turbo headers (apt-get install libjpeg62-turbo-dev)' };
    if (/-ljpeg/.test(stderr))
      return { ok: false, reason: 'no libjpeg library to link (apt-get install libjpeg62-turbo-dev)' };
    return { ok: false, reason: `${cc} failed: ${stderr.trim().split('\n').slice(0, 5).join(' / ')}` };
  }
  renameSync(temporary, ADDON_PATH);
  return { ok: true, path: ADDON_PATH, compiler: cc };
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { strict: { type: 'boolean', default: false } } });
  console.log('building the native JPEG decoder …');
  const result = buildNative();
  if (!result.ok) {
    console.error(`${values.strict ? 'error' : 'warning'}: native decoder not built: ${result.reason}`);
    if (!values.strict) console.error('the Node build will decode with wasm (--decoder wasm)');
    return values.strict ? 1 : 0;
  }
  console.log(`built ${path.relative(process.cwd(), result.path)} with ${result.compiler}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  await runCli(USAGE, main);
}
