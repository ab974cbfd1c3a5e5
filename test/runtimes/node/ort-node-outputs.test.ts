/**
 * Preallocated outputs (worker/runtimes/node/inference/ort-node.ts), the CUDA path's way of receiving logits: the server turns them
 * on for CUDA only, but the mechanism is the provider-independent fetch binding, so it is checked here on CPU
 * against a plain run — the same logits, bit for bit, in a buffer of ours that the inference thread may transfer.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { exportOnnx } from '../../../models/toolchain/export/index.js';
import { readCheckpoint } from '../../../models/toolchain/checkpoint/index.js';
import { createOrtNodeBackend, ownedOutputs } from '../../../worker/runtimes/node/inference/ort-node.js';
import { goldenBatch, readGolden } from '../../helpers/golden.js';

it('writes the same logits and embedding as a plain run into a buffer it owns, for every batch size', async () => {
  const golden = readGolden('m0');
  const onnx = exportOnnx(readCheckpoint(readFileSync(golden.checkpointPath), golden.checkpointPath).stateDict, 'm0', {
    graph: 'optimized',
  });
  const plain = await createOrtNodeBackend({ device: 'cpu', threads: 1 }).load(onnx);
  const preallocated = await createOrtNodeBackend({ device: 'cpu', threads: 1, preallocateOutputs: true }).load(onnx);
  try {
    for (const images of [[0], [1, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7]]) {
      const { data, dims } = goldenBatch(golden, images);
      const expected = await plain.run(data, dims);
      const output = await preallocated.run(data, dims);
      expect(output.dims).toEqual([images.length, 1000]);
      expect(output.data).toEqual(expected.data);
      expect(ownedOutputs.has(output.data)).toBe(true);
      expect(ownedOutputs.has(expected.data)).toBe(false);
      // The embedding output is bound the same way.
      expect(output.embedding?.dims).toEqual([images.length, 192]);
      expect(output.embedding!.data).toEqual(expected.embedding!.data);
      expect(ownedOutputs.has(output.embedding!.data)).toBe(true);
    }
  } finally {
    await Promise.all([plain.release(), preallocated.release()]);
  }
});
