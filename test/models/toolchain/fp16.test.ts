/**
 * fp16 models (models/toolchain/precision): the binary16 rounding itself, and `npm run models -- build --precisions
 * fp32,fp16` through the real CLI: float32 at the graph boundary, float16 inside, the golden top-5 unchanged, the
 * numbers in the manifest, the Node target only, and the Node server on CPU refusing it with a reason.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { onnx } from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../../worker/core/manifest/manifest.js';
import { TensorDataType } from '../../../models/toolchain/onnx/proto.js';
import { fromFloat16Bits, toFloat16Bits } from '../../../models/toolchain/precision/half.js';
import { parseConfig } from '../../../worker/service/config.js';
import { createOrtNodeBackend } from '../../../worker/runtimes/node/inference/ort-node.js';
import type { NodeServer } from '../../../worker/runtimes/node/server.js';
import { checkpointsDir, maxAbsDiff, readGolden, repoRoot, topK } from '../../helpers/golden.js';
import { startTestNodeServer } from '../../helpers/node-server.js';

describe('toFloat16Bits', () => {
  it('rounds to nearest even, with subnormals, overflow and NaN', () => {
    expect(toFloat16Bits(1)).toBe(0x3c00);
    expect(toFloat16Bits(-2)).toBe(0xc000);
    expect(toFloat16Bits(0.1)).toBe(0x2e66);
    expect(toFloat16Bits(65504)).toBe(0x7bff);
    expect(toFloat16Bits(65520)).toBe(0x7c00); // halfway to the next binade: rounds to even, i.e. Inf
    expect(toFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(toFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(toFloat16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toFloat16Bits(2 ** -26)).toBe(0x0000);
    expect(toFloat16Bits(-0)).toBe(0x8000);
    expect(toFloat16Bits(Number.NaN) & 0x7c00).toBe(0x7c00);
  });

  it('maps every finite binary16 value to itself', () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      if ((bits & 0x7c00) === 0x7c00) continue;
      if (toFloat16Bits(fromFloat16Bits(bits)) !== bits) throw new Error(`0x${bits.toString(16)} does not round-trip`);
    }
  });
});

describe('models build --precisions fp32,fp16 (m0)', () => {
  let root: string;
  const manifest = (target: string): Manifest =>
    JSON.parse(readFileSync(path.join(root, target, 'manifest.json'), 'utf8'));
  const nodeDir = () => path.join(root, 'node');

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'fp16-build-'));
    const checkpoints = path.join(root, 'checkpoints');
    mkdirSync(checkpoints);
    copyFileSync(
      path.join(checkpointsDir, 'efficientvit_m0.synthetic.pth'),
      path.join(checkpoints, 'efficientvit_m0.pth'),
    );
    const args = ['build', '--variants', 'm0', '--precisions', 'fp32,fp16', '--checkpoints', checkpoints];
    await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', path.join(repoRoot, 'scripts/models.ts'), ...args],
      {
        cwd: repoRoot,
        env: { ...process.env, EFFICIENTVIT_BUILD_DIR: root },
      },
    );
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes the fp16 entry with its check against fp32, for the Node target only', () => {
    const entries = manifest('node').models;
    expect(entries.map((m) => m.name).sort()).toEqual(['m0-fp16', 'm0-fp32']);
    const byName = (name: string) => entries.find((m) => m.name === name)!;
    const [fp32, fp16] = [byName('m0-fp32'), byName('m0-fp16')];
    expect(fp16).toMatchObject({
      id: 'efficientvit_m0.fp16',
      precision: 'fp16',
      input: fp32.input,
      output: fp32.output,
    });
    expect(fp16.bytes / fp32.bytes).toBeGreaterThan(0.45);
    expect(fp16.bytes / fp32.bytes).toBeLessThan(0.55);
    const notes = fp16.verified.notes as Record<string, number>;
    expect(notes.top1AgreementVsFp32).toBe(1);
    expect(notes.top5OverlapVsFp32).toBeGreaterThanOrEqual(0.8);
    expect(notes.maxAbsDiffVsFp32).toBeGreaterThan(0);
    expect(notes.maxAbsDiffVsFp32).toBeLessThan(0.1);
    expect(manifest('edge').models.map((m) => m.name)).toEqual(['m0-fp32']);
    expect(readdirSync(path.join(root, 'edge'))).not.toContain('efficientvit_m0.fp16.onnx');
  });

  it('is float16 inside and float32 at the graph boundary', () => {
    const model = onnx.ModelProto.decode(readFileSync(path.join(nodeDir(), 'efficientvit_m0.fp16.onnx')));
    const graph = model.graph!;
    expect(graph.input!.map((v) => [v.name, v.type!.tensorType!.elemType])).toEqual([['input', TensorDataType.FLOAT]]);
    expect(graph.output!.map((v) => [v.name, v.type!.tensorType!.elemType])).toEqual([
      ['logits', TensorDataType.FLOAT],
      ['embedding', TensorDataType.FLOAT],
    ]);
    const types = new Set(graph.initializer!.map((t) => t.dataType));
    expect(types.has(TensorDataType.FLOAT)).toBe(false);
    expect(types.has(TensorDataType.FLOAT16)).toBe(true);
    // One after the input, one before each output (logits, embedding).
    expect(graph.node!.filter((n) => n.opType === 'Cast')).toHaveLength(3);
  });

  it('keeps the golden top-5 of fp32 on the 8 golden images', async () => {
    const golden = readGolden('m0');
    const backend = createOrtNodeBackend({ device: 'cpu', threads: 1 });
    const run = async (file: string) => {
      const session = await backend.load(new Uint8Array(readFileSync(path.join(nodeDir(), file))));
      try {
        return (await session.run(golden.input, golden.inputDims)).data;
      } finally {
        await session.release();
      }
    };
    const fp32 = await run('efficientvit_m0.fp32.onnx');
    const fp16 = await run('efficientvit_m0.fp16.onnx');
    expect(topK(fp16, golden.classes)).toEqual(topK(fp32, golden.classes));
    expect(topK(fp16, golden.classes)).toEqual(golden.top5);
    const delta = maxAbsDiff(fp16, fp32);
    expect(delta).toBeGreaterThan(0); // really fp16 weights
    expect(delta).toBeLessThan(0.1);
  });

  describe('the Node server on CPU', () => {
    let server: NodeServer;
    beforeAll(async () => {
      server = await startTestNodeServer(nodeDir(), { config: parseConfig({ DEFAULT_MODEL: 'm0-fp32' }) });
    });
    afterAll(() => server?.close());

    it('refuses the fp16 model with 503 model-unavailable and says why; serves its fp32 twin', async () => {
      const image = readFileSync(path.join(repoRoot, '../shared/images/imagenet-sample', readGolden('m0').images[0]));
      const classify = (model: string) =>
        fetch(`${server.url}/v1/classify?model=${model}`, {
          method: 'POST',
          body: image,
          headers: { 'content-type': 'image/jpeg' },
        });
      const refused = await classify('m0-fp16');
      expect(refused.status).toBe(503);
      const problem = (await refused.json()) as { code: string; detail: string; model: string };
      expect(problem).toMatchObject({ code: 'model-unavailable', model: 'm0-fp16' });
      expect(problem.detail).toMatch(/fp16 build for CUDA; this server runs on cpu.*use m0-fp32/);
      expect((await classify('m0-fp32')).status).toBe(200);
    });
  });
});
