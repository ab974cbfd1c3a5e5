/**
 * Hostile checkpoints (test/helpers/hostile-checkpoints.ts): each is refused with its own code, or read
 * correctly, at a cost bounded by what the weights need — asserted as bytes inflated, not as time.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../../../../models/toolchain/checkpoint/index.js';
import { readPth } from '../../../../models/toolchain/checkpoint/pth.js';
import { checkpointErrorCode } from '../../../helpers/checkpoint-error.js';
import { checkpointsDir } from '../../../helpers/golden.js';
import {
  bloatRecord,
  inflationBomb,
  manyViewsOfOneStorage,
  pthDeclaredHalf,
  pthWithValue,
  safetensorsWithValue,
  torchArchive,
} from '../../../helpers/hostile-checkpoints.js';
import { deflatedEntry, dictPickle, pickle, stateDictPickle, storedEntry } from '../../../helpers/pickle.js';

const MiB = 1024 * 1024;

/** readPth's error code ('accepted' if none) and the bytes it inflated before deciding. */
function attempt(file: Uint8Array): { code: string; inflatedBytes: number } {
  const work = { inflatedBytes: 0 };
  const code = checkpointErrorCode(() => readPth(file, work));
  return { code, inflatedBytes: work.inflatedBytes };
}

describe('a storage that inflates far beyond what its tensor needs (item 4)', () => {
  it("the M0 checkpoint with its stem conv's 864-byte record bloated to 256 MiB → oversized-entry, nothing inflated", () => {
    const m0 = new Uint8Array(readFileSync(path.join(checkpointsDir, 'efficientvit_m0.synthetic.pth')));
    expect(attempt(m0)).toEqual({ code: 'accepted', inflatedBytes: 0 });
    expect(attempt(bloatRecord(m0, 864, 256 * MiB))).toEqual({ code: 'oversized-entry', inflatedBytes: 0 });
  });

  it('a record declaring 256 MiB for an 864-byte storage → oversized-entry, nothing inflated', () => {
    const file = inflationBomb({ inflatesTo: 256 * MiB, storageNumel: 216 });
    expect(file.length).toBeLessThan(2 * MiB);
    expect(attempt(file)).toEqual({ code: 'oversized-entry', inflatedBytes: 0 });
  });

  it('a 256 MiB storage of which the weights read 864 bytes → oversized-entry, nothing inflated', () => {
    const file = inflationBomb({ inflatesTo: 256 * MiB });
    expect(attempt(file)).toEqual({ code: 'oversized-entry', inflatedBytes: 0 });
  });

  it('a record declaring 864 bytes that really inflates to 256 MiB → oversized-entry within 1 MiB of inflation', () => {
    const file = inflationBomb({ inflatesTo: 256 * MiB, declares: 864 });
    const { code, inflatedBytes } = attempt(file);
    expect(code).toBe('oversized-entry');
    expect(inflatedBytes).toBeGreaterThan(864);
    expect(inflatedBytes).toBeLessThan(864 + 1.1 * MiB);
  });

  it('a record that inflates to less than it declares → corrupt-archive', () => {
    expect(attempt(inflationBomb({ inflatesTo: 800, declares: 864 })).code).toBe('corrupt-archive');
  });
});

describe('many tensors on one deflated storage (item 5)', () => {
  it('inflates the storage once, and every view reads its own part', () => {
    const count = 580;
    const floatsEach = 256;
    const work = { inflatedBytes: 0 };
    const { stateDict } = readPth(manyViewsOfOneStorage(count, floatsEach, 'ramp'), work);
    expect(stateDict.size).toBe(count);
    expect(work.inflatedBytes).toBe(count * floatsEach * 4);
    for (const i of [0, 1, 333, count - 1]) {
      const data = stateDict.get(`t${i}`)!.data as Float32Array;
      expect([data[0], data[floatsEach - 1]]).toEqual([i * floatsEach, (i + 1) * floatsEach - 1]);
    }
  });

  it('refuses views that, decoded, would exceed the state-dict cap → oversized-state-dict', () => {
    // 5,000 views of one whole 256 KiB storage: 1.3 GB decoded from a small file.
    const floats = 64 * 1024;
    const tensors = Array.from({ length: 5000 }, (_, i) => ({
      name: `t${i}`,
      storageType: 'FloatStorage',
      key: '0',
      numel: floats,
      size: [floats],
    }));
    const file = torchArchive(pickle(2, dictPickle([['model', stateDictPickle(tensors)]])), [
      storedEntry('0', new Uint8Array(floats * 4)),
    ]);
    expect(attempt(file).code).toBe('oversized-state-dict');
  });
});

describe('damaged archives are caught by their CRC-32 (item 7)', () => {
  const tensors = [{ name: 'w', storageType: 'FloatStorage', key: '0', numel: 4, size: [4] }];
  const dataPkl = pickle(2, dictPickle([['model', stateDictPickle(tensors)]]));
  const weights = new Uint8Array(Float32Array.from([1, 2, 3, 4]).buffer);

  it('a flipped bit in a stored record → checksum-mismatch', () => {
    const good = torchArchive(dataPkl, [storedEntry('0', weights)]);
    expect(attempt(good).code).toBe('accepted');
    const at = Buffer.from(good).indexOf(Buffer.from(weights));
    const flipped = good.slice();
    flipped[at + 3] ^= 0x40; // an exponent bit of the first float
    expect(attempt(flipped).code).toBe('checksum-mismatch');
  });

  it('a flipped bit in data.pkl → checksum-mismatch', () => {
    const good = torchArchive(dataPkl, [storedEntry('0', weights)]);
    const at = Buffer.from(good).indexOf(Buffer.from('archive/data.pkl')) + 'archive/data.pkl'.length;
    const flipped = good.slice();
    flipped[at + dataPkl.length - 2] ^= 0x01;
    expect(attempt(flipped).code).toBe('checksum-mismatch');
  });

  it('a deflated record that inflates cleanly to the wrong bytes → checksum-mismatch', () => {
    const record = {
      ...deflatedEntry('0', weights),
      crc32: deflatedEntry(
        '0',
        weights.map((b) => b ^ 1),
      ).crc32,
    };
    expect(attempt(torchArchive(dataPkl, [record])).code).toBe('checksum-mismatch');
  });
});

describe('weights that are not finite numbers (item 7)', () => {
  it('NaN or ±Inf in .pth weights → non-finite, naming the tensor', () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(
        checkpointErrorCode(() => readCheckpoint(pthWithValue(value))),
        String(value),
      ).toBe('non-finite');
    }
    expect(() => readCheckpoint(pthWithValue(Number.NaN), 'bad.pth')).toThrow(
      /^bad\.pth: tensor 'w' holds NaN at index 1/,
    );
  });

  it('+Inf in safetensors → non-finite', () => {
    expect(checkpointErrorCode(() => readCheckpoint(safetensorsWithValue(Number.POSITIVE_INFINITY)))).toBe(
      'non-finite',
    );
  });

  it('a float32 record declared as float16 → oversized-entry (twice the bytes its storage can hold)', () => {
    expect(checkpointErrorCode(() => readCheckpoint(pthDeclaredHalf()))).toBe('oversized-entry');
  });
});
