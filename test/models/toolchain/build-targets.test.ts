/**
 * Build outputs per deploy target (models/toolchain/targets.ts), through the real CLI: building a GPU-host variant
 * beside the edge ones puts it in the Node target's folder only, so the edge's Static Assets folder keeps to M0/M1
 * and under Cloudflare's 25 MiB per-file limit.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../../worker/core/manifest/manifest.js';
import { EDGE_ASSET_LIMIT_BYTES } from '../../../models/toolchain/targets.js';
import { checkpointsDir, goldenBatch, readGolden, repoRoot } from '../../helpers/golden.js';
import { safetensorsFile } from '../../helpers/pickle.js';
import { syntheticStateDict } from '../../helpers/synthetic.js';

const run = promisify(execFile);

describe('models build into per-target folders (m0 + m2)', () => {
  let root: string;
  const manifest = (target: string): Manifest =>
    JSON.parse(readFileSync(path.join(root, target, 'manifest.json'), 'utf8'));

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'build-targets-'));
    const checkpoints = path.join(root, 'checkpoints');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(checkpoints);
    copyFileSync(
      path.join(checkpointsDir, 'efficientvit_m0.synthetic.pth'),
      path.join(checkpoints, 'efficientvit_m0.pth'),
    );
    const { data } = goldenBatch(readGolden('m0'), [0, 1, 2, 3]);
    const m2 = syntheticStateDict('m2', { seed: 2, calibration: { data, batch: 4 } });
    const header: Record<string, unknown> = {};
    const parts: Uint8Array[] = [];
    let offset = 0;
    for (const [name, tensor] of m2) {
      const int64 = tensor.data instanceof BigInt64Array;
      const values = int64 ? tensor.data : Float32Array.from(tensor.data as Float32Array);
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      header[name] = {
        dtype: int64 ? 'I64' : 'F32',
        shape: tensor.shape,
        data_offsets: [offset, offset + bytes.byteLength],
      };
      parts.push(bytes);
      offset += bytes.byteLength;
    }
    const body = new Uint8Array(offset);
    parts.reduce((at, part) => (body.set(part, at), at + part.byteLength), 0);
    writeFileSync(path.join(checkpoints, 'efficientvit_m2.safetensors'), safetensorsFile(header, body));

    await run(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(repoRoot, 'scripts/models.ts'),
        'build',
        '--variants',
        'm0,m2',
        '--precisions',
        'fp32',
        '--checkpoints',
        checkpoints,
      ],
      { cwd: repoRoot, env: { ...process.env, EFFICIENTVIT_BUILD_DIR: root } },
    );
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('the Node target gets every variant built', () => {
    expect(manifest('node').models.map((m) => m.name)).toEqual(['m0-fp32', 'm2-fp32']);
    expect(readdirSync(path.join(root, 'node'))).toContain('efficientvit_m2.fp32.onnx');
  });

  it('the edge target gets only what the edge serves, every file under the 25 MiB asset limit', () => {
    expect(manifest('edge').models.map((m) => m.name)).toEqual(['m0-fp32']);
    const files = readdirSync(path.join(root, 'edge'));
    expect(files.sort()).toEqual(['efficientvit_m0.fp32.onnx', 'imagenet-1k.labels.json', 'manifest.json']);
    for (const file of files) expect(statSync(path.join(root, 'edge', file)).size).toBeLessThan(EDGE_ASSET_LIMIT_BYTES);
  });

  it('the edge copy is the same model as the Node one', () => {
    const [edge] = manifest('edge').models;
    const [node] = manifest('node').models;
    expect(edge).toEqual(node);
    expect(
      readFileSync(path.join(root, 'edge', edge.file)).equals(readFileSync(path.join(root, 'node', node.file))),
    ).toBe(true);
  });
});
