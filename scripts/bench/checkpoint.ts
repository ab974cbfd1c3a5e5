/**
 * What hostile checkpoints cost the converter, against normal ones (inflation bombs, shared storages,
 * deep pickles, non-finite weights; docs/reliability.md, "Hostile checkpoints"):
 *
 *   npm run bench:checkpoint [-- --cases a,b] [--root DIR] [--timeout 300] [--keep DIR] [--json]
 *
 * Each case is a file (the shared M0 fixtures, or one made by test/helpers/hostile-checkpoints.ts) run through
 * `npm run models -- convert --variant m0` in a fresh process under GNU time (/usr/bin/time, Linux): wall time,
 * peak RSS, exit code and the first line of stderr. `--root` runs another checkout's CLI on the same files (e.g. an
 * older commit exported with `git archive`, node_modules linked), which is how the before/after numbers in
 * docs/reliability.md were taken. Files are written to a temporary directory (or `--keep DIR`).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  bloatRecord,
  deeplyNestedKey,
  flipBit,
  manyViewsOfOneStorage,
  floatStoragesAsHalf,
  safetensorsOffset,
  withFirstFloat,
} from '../../test/helpers/hostile-checkpoints.js';
import { formatTable } from '../../models/toolchain/table.js';
import { exitOnHelp } from '../lib/cli.js';

exitOnHelp(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures/checkpoints');
const MiB = 1024 * 1024;

const readFixture = (name: string) => new Uint8Array(readFileSync(path.join(fixtures, name)));

/** name → (file name, what it is, a function writing it). */
const CASES: Record<string, { file: string; what: string; make: () => Uint8Array }> = {
  'normal-pth': {
    file: 'm0.pth',
    what: 'M0 training checkpoint (shared fixture)',
    make: () => readFixture('efficientvit_m0.synthetic.pth'),
  },
  'normal-safetensors': {
    file: 'm0.safetensors',
    what: 'M0 timm safetensors (shared fixture)',
    make: () => readFixture('efficientvit_m0.synthetic.timm.safetensors'),
  },
  'bomb-4gib': {
    file: 'bomb.pth',
    what: "M0 .pth, the stem conv's 864-byte record deflated with zeros to 4 GiB",
    make: () => bloatRecord(readFixture('efficientvit_m0.synthetic.pth'), 864, 4 * 1024 * MiB - 64 * 1024),
  },
  'shared-64mib': {
    file: 'shared.pth',
    what: '580 tensors tiling one 64 MiB deflated storage',
    make: () => manyViewsOfOneStorage(580, Math.floor((64 * MiB) / 4 / 580), 'zeros'),
  },
  'deep-key': { file: 'deep.pth', what: 'a dict key nested 100,000 deep', make: () => deeplyNestedKey(100_000) },
  'nan-pth': {
    file: 'nan.pth',
    what: "M0 .pth with a NaN as the stem conv's first weight (checksums intact)",
    make: () => withFirstFloat(readFixture('efficientvit_m0.synthetic.pth'), 864, Number.NaN),
  },
  'half-pth': {
    file: 'half.pth',
    what: 'M0 .pth whose pickle declares every float32 storage float16 (checksums intact)',
    make: () => floatStoragesAsHalf(readFixture('efficientvit_m0.synthetic.pth')),
  },
  'inf-safetensors': {
    file: 'inf.safetensors',
    what: 'M0 safetensors with +Inf as the first head weight',
    make: () => {
      const m0 = readFixture('efficientvit_m0.synthetic.timm.safetensors');
      const at = safetensorsOffset(m0, 'head.linear.weight');
      new DataView(m0.buffer, m0.byteOffset).setFloat32(at, Number.POSITIVE_INFINITY, true);
      return m0;
    },
  },
  'bitflip-safetensors': {
    file: 'bitflip.safetensors',
    what: 'M0 safetensors, the top exponent bit of one head weight flipped (×2^128, finite)',
    make: () => {
      const m0 = readFixture('efficientvit_m0.synthetic.timm.safetensors');
      return flipBit(m0, safetensorsOffset(m0, 'head.linear.weight') + 3, 6);
    },
  },
};

interface Row {
  case: string;
  'file bytes': number;
  s: number;
  'peak RSS MB': number;
  exit: number | string;
  stderr: string;
}

async function measure(
  root: string,
  file: string,
  out: string,
  timeoutS: number,
): Promise<Omit<Row, 'case' | 'file bytes'>> {
  const args = [
    '-f',
    'BENCH %e %M',
    process.execPath,
    '--import',
    'tsx',
    path.join(root, 'scripts/models.ts'),
    'convert',
    '--checkpoint',
    file,
    '--variant',
    'm0',
    '--out',
    out,
  ];
  return new Promise((resolve) => {
    execFile(
      '/usr/bin/time',
      args,
      {
        cwd: root,
        timeout: timeoutS * 1000,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * MiB,
        env: { ...process.env, DEBUG: '' },
      },
      (error, _stdout, stderr) => {
        const timing = /BENCH ([\d.]+) (\d+)/.exec(stderr);
        const lines = stderr
          .split('\n')
          .filter(
            (line) =>
              line.trim() && !line.startsWith('BENCH') && !line.startsWith('npm warn') && !line.startsWith('Command '),
          );
        const killed = error && (error as { killed?: boolean }).killed;
        resolve({
          s: timing ? Number(timing[1]) : Number.NaN,
          'peak RSS MB': timing ? Math.round(Number(timing[2]) / 1024) : Number.NaN,
          exit: killed ? `killed after ${timeoutS} s` : error ? ((error as { code?: number }).code ?? 1) : 0,
          stderr: `${(lines[0] ?? '').replace(file, '<file>').slice(0, 110)}${lines.length > 1 ? ` (+${lines.length - 1} lines)` : ''}`,
        });
      },
    );
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string' },
      root: { type: 'string', default: repoRoot },
      timeout: { type: 'string', default: '300' },
      keep: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const names = values.cases ? values.cases.split(',') : Object.keys(CASES);
  for (const name of names)
    if (!CASES[name]) throw new Error(`unknown case ${name} (known: ${Object.keys(CASES).join(', ')})`);
  const dir = values.keep ? path.resolve(values.keep) : mkdtempSync(path.join(tmpdir(), 'bench-checkpoint-'));
  mkdirSync(dir, { recursive: true });
  const rows: Row[] = [];
  try {
    for (const name of names) {
      const { file, make } = CASES[name];
      const target = path.join(dir, file);
      writeFileSync(target, make());
      const size = readFileSync(target).byteLength;
      process.stderr.write(`${name}…\n`);
      const result = await measure(
        path.resolve(values.root),
        target,
        path.join(dir, `${name}.onnx`),
        Number(values.timeout),
      );
      rows.push({ case: name, 'file bytes': size, ...result });
    }
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
  if (values.json) return console.log(JSON.stringify(rows, null, 2));
  console.log(formatTable(rows as unknown as Record<string, string | number>[]));
  console.log(`\n${names.map((n) => `${n}: ${CASES[n].what}`).join('\n')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
