/**
 * `models convert` checks what it builds: damaged weights fail with a one-line error and
 * exit 1 instead of writing a model that outputs NaN or 1e37.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../../models/state-dict.js';
import { convertCheckpoint } from '../../../models/toolchain/convert.js';
import { ModelCheckError } from '../../../models/toolchain/verify/reference-check.js';
import { formatCliError } from '../../../scripts/lib/cli.js';
import { checkpointsDir, repoRoot } from '../../helpers/golden.js';
import { flipBit, pthWithValue, safetensorsOffset } from '../../helpers/hostile-checkpoints.js';
import { nodeToolchainHost } from '../../../scripts/lib/node-host.js';

const m0Timm = new Uint8Array(readFileSync(path.join(checkpointsDir, 'efficientvit_m0.synthetic.timm.safetensors')));

async function rejection(action: Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await action;
  } catch (error) {
    return error as Error & { code: string };
  }
  throw new Error('accepted');
}

describe('convertCheckpoint', () => {
  it('converts the fixture and reports the fp32 check', async () => {
    const { onnx, maxAbsDiffVsReference } = await convertCheckpoint(m0Timm, { host: nodeToolchainHost, variant: 'm0' });
    expect(onnx.byteLength).toBeGreaterThan(1e6);
    expect(maxAbsDiffVsReference).toBeLessThan(1e-3);
  });

  it('refuses a finite but flipped exponent bit (a weight ×2^128) → reference-mismatch', async () => {
    // Bit 30 is the top exponent bit of the first head weight (little-endian: byte 3, bit 6).
    const flipped = flipBit(m0Timm, safetensorsOffset(m0Timm, 'head.linear.weight') + 3, 6);
    const error = await rejection(convertCheckpoint(flipped, { host: nodeToolchainHost, variant: 'm0' }));
    expect(error).toBeInstanceOf(ModelCheckError);
    expect(error.code).toBe('reference-mismatch');
  });

  it('refuses NaN weights before exporting → non-finite', async () => {
    const error = await rejection(
      convertCheckpoint(pthWithValue(Number.NaN), { host: nodeToolchainHost, variant: 'm0' }),
    );
    expect(error).toBeInstanceOf(CheckpointError);
    expect(error.code).toBe('non-finite');
  });
});

describe('CLI errors', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'convert-errors-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = promisify(execFile);
  const convert = (checkpoint: string, env: Record<string, string> = {}) =>
    run(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(repoRoot, 'scripts/models.ts'),
        'convert',
        '--checkpoint',
        checkpoint,
        '--variant',
        'm0',
        '--out',
        path.join(dir, 'out.onnx'),
      ],
      {
        cwd: repoRoot,
        env: { ...process.env, DEBUG: '', ...env },
      },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );

  it('a damaged checkpoint: exit 1, one line `error: <message>`, nothing written', async () => {
    const file = path.join(dir, 'nan.pth');
    writeFileSync(file, pthWithValue(Number.NaN));
    const { code, stderr } = await convert(file);
    expect(code).toBe(1);
    const lines = stderr.split('\n').filter((line) => line && !line.startsWith('npm warn'));
    expect(lines).toEqual([`error: ${file}: tensor 'w' holds NaN at index 1: the weights are damaged`]);
    expect(existsSync(path.join(dir, 'out.onnx'))).toBe(false);
  });

  it('DEBUG=1 adds the stack', async () => {
    const file = path.join(dir, 'nan.pth');
    writeFileSync(file, pthWithValue(Number.NaN));
    const { code, stderr } = await convert(file, { DEBUG: '1' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/CheckpointError: .*holds NaN/);
    expect(stderr).toMatch(/\n\s+at /);
  });

  it('formatCliError: one line for input errors, the stack for bugs', () => {
    const env = {};
    expect(formatCliError(new CheckpointError('truncated', 'x.pth: cut short'), [], env)).toBe(
      'error: x.pth: cut short',
    );
    expect(
      formatCliError(
        Object.assign(new Error("ENOENT: no such file or directory, open 'x.pth'"), { code: 'ENOENT' }),
        [],
        env,
      ),
    ).toBe("error: ENOENT: no such file or directory, open 'x.pth'");
    class UsageError extends Error {}
    expect(formatCliError(new UsageError('unknown command'), [UsageError], env)).toBe('error: unknown command');
    expect(formatCliError(new TypeError('undefined is not a function'), [], env)).toMatch(
      /^TypeError: undefined is not a function\n\s+at /,
    );
    expect(formatCliError(new CheckpointError('truncated', 'cut'), [], { DEBUG: '1' })).toMatch(
      /^CheckpointError: cut\n\s+at /,
    );
  });
});
