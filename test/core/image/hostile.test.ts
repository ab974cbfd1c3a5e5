/**
 * Hostile images, the decode work budget and the audit of the other formats, on the real decoder with crafted files:
 * - PNG: a degenerate aspect ratio (1×7,600,000) is refused from its header with 413 image-too-complex (its
 *   scanlines cost ~10× its pixels); small images of any shape and narrow strips within the budget decode;
 * - GIF: one-byte sub-blocks, 100,000 extensions, a flood of clear codes, LZW at its maximum expansion and a huge
 *   canvas around a 1×1 frame all decode to the pixels they describe (their cost is bounded by bytes + pixels);
 * - long decodes hand the thread back: a timer set before a 16 MP GIF decode runs before the decode ends (PNG:
 *   test/core/image/hostile.workerd.test.ts, where the inflater does not yield by itself).
 */
import { problemStatus } from '../../../worker/api/problems.js';
import { readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { createImageDecoder, type ImageDecoder } from '../../../worker/core/image/decode.js';
import { pngWork } from '../../../worker/core/image/png.js';
import { probeWebp } from '../../../worker/core/image/webp.js';
import { loadImageWasmModules } from '../../../worker/runtimes/node/image-wasm.js';
import { MAX_METADATA_BLOCKS, maxWork } from '../../../worker/core/image/work.js';
import { craftGif, literalCodes, solidCodes } from '../../helpers/hostile-gif.js';
import { grayPng, tallPng } from '../../helpers/hostile-png.js';
import { decodeError } from '../../helpers/image-error.js';

const LIMIT = { maxPixels: 16_000_000 };
let decoder: ImageDecoder;
beforeAll(async () => {
  decoder = createImageDecoder(await loadImageWasmModules());
});

/** Whether a timer set now runs before `work` settles: false when the work holds the thread to its end. */
async function timerRunsDuring(work: () => Promise<unknown>): Promise<boolean> {
  let settled = false;
  const during = new Promise<boolean>((resolve) => setTimeout(() => resolve(!settled), 0));
  await work().finally(() => {
    settled = true;
  });
  return during;
}

describe('PNG work budget', () => {
  it('refuses a 1×7,600,000 16-bit RGBA PNG (66 KB) from its header with 413 image-too-complex', async () => {
    const error = await decodeError(decoder.decodeImage(tallPng(), LIMIT));
    expect([problemStatus(error.code), error.code]).toEqual([413, 'image-too-complex']);
    const header = { width: 1, height: 7_600_000, bitDepth: 16, colorType: 6, interlaced: false };
    expect(error.details).toEqual({ work: Math.round(pngWork(header)), limit: maxWork(7_600_000) });
    expect(error.message).toContain('7600000 scanlines');
  });

  it('decodes small images of any shape, and strips within the budget', async () => {
    for (const [width, height] of [
      [1, 50_000],
      [8, 200_000],
    ]) {
      const image = await decoder.decodeImage(grayPng(width, height, 1 << 16, 9), LIMIT);
      expect([image.width, image.height]).toEqual([width, height]);
      const y = height - 1;
      expect(image.data[(y * width + width - 1) * 3]).toBe((width - 1 + y) & 0xff);
    }
  });

  it('a 2×1,000,000 PNG is over the budget, a 2×100,000 one is not', async () => {
    const header = (height: number) => ({ width: 2, height, bitDepth: 8, colorType: 0, interlaced: false });
    expect(pngWork(header(1_000_000))).toBeGreaterThan(maxWork(2_000_000));
    expect(pngWork(header(100_000))).toBeLessThan(maxWork(200_000));
    const error = await decodeError(decoder.decodeImage(grayPng(2, 1_000_000, 1 << 16, 9), LIMIT));
    expect(error.code).toBe('image-too-complex');
  });
});

const fixture = (name: string) => readFile(new URL(`../../fixtures/images/${name}`, import.meta.url));

/** `count` copies of `block` spliced into `file` at `at`. */
const spliced = (file: Buffer, at: number, block: number[], count: number) =>
  Buffer.concat([file.subarray(0, at), Buffer.alloc(count * block.length, Buffer.from(block)), file.subarray(at)]);

/** A RIFF file of these chunks. */
function riff(chunks: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from('WEBP'), ...chunks]);
  const header = Buffer.alloc(8);
  header.write('RIFF');
  header.writeUInt32LE(body.length, 4);
  return Buffer.concat([header, body]);
}

function pngChunk(type: string, data: number[]): number[] {
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.from([...Buffer.from(type), ...data])));
  return [0, 0, 0, data.length, ...Buffer.from(type), ...data, ...crc];
}

/**
 * Files that are their format's smallest metadata block (4–12 bytes) repeated: one more than MAX_METADATA_BLOCKS is
 * refused from the header (413 image-too-complex); as many as allowed still decode to the same size.
 */
const METADATA_FLOODS: { name: string; file: (count: number) => Promise<Buffer> }[] = [
  // Two-byte COM segments right after SOI.
  {
    name: 'JPEG: COM segments',
    file: async (n) => spliced(await fixture('jpeg-baseline.jpg'), 2, [0xff, 0xfe, 0, 2], n),
  },
  // Unknown chunks between VP8X and the image chunk (libwebp skips them).
  {
    name: 'WebP: unknown RIFF chunks',
    file: async (n) => {
      const webp = await fixture('webp-lossy.webp');
      const size = probeWebp(webp);
      const vp8x = Buffer.alloc(18);
      vp8x.write('VP8X');
      vp8x.writeUInt32LE(10, 4);
      vp8x.writeUIntLE(size.width - 1, 12, 3);
      vp8x.writeUIntLE(size.height - 1, 15, 3);
      return riff([vp8x, Buffer.alloc(8 * n, Buffer.from('JUNK\0\0\0\0', 'latin1')), webp.subarray(12)]);
    },
  },
  // Private ancillary chunks (lowercase "prIv"), empty, after IHDR: PNG decoders skip them.
  { name: 'PNG: ancillary chunks', file: async (n) => spliced(grayPng(64, 48, 1 << 16), 33, pngChunk('prIv', []), n) },
  {
    name: 'GIF: comment extensions',
    file: async (n) => craftGif({ screen: [64, 48], frame: [64, 48], codes: literalCodes(INDICES), comments: n }),
  },
];

describe('metadata floods', () => {
  it.each(METADATA_FLOODS)(
    '$name: over the cap is 413 image-too-complex, near it the same pixels',
    async ({ file }) => {
      const error = await decodeError(decoder.decodeImage(await file(MAX_METADATA_BLOCKS + 1), LIMIT));
      expect([problemStatus(error.code), error.code, error.details.limit]).toEqual([
        413,
        'image-too-complex',
        MAX_METADATA_BLOCKS,
      ]);
      const plain = await decoder.decodeImage(await file(0), LIMIT);
      // Near the cap: the blocks the format has anyway (DQT, DHT, VP8X, IEND…) count too.
      const atCap = await decoder.decodeImage(await file(MAX_METADATA_BLOCKS - 16), LIMIT);
      expect([atCap.width, atCap.height]).toEqual([plain.width, plain.height]);
      expect(Buffer.from(atCap.data).equals(Buffer.from(plain.data))).toBe(true);
    },
  );
});

/** A 64×48 gray gradient's indices. */
const INDICES = Uint8Array.from({ length: 64 * 48 }, (_, i) => ((i % 64) + Math.floor(i / 64) * 3) & 0xff);

describe('GIF structure at its extremes decodes to its pixels', () => {
  const expectGradient = (image: { width: number; height: number; data: Uint8Array }) => {
    expect([image.width, image.height]).toEqual([64, 48]);
    for (let i = 0; i < INDICES.length; i++) expect(image.data[i * 3]).toBe(INDICES[i]);
  };
  const base = { screen: [64, 48] as [number, number], frame: [64, 48] as [number, number] };

  it('one-byte sub-blocks', async () => {
    expectGradient(
      await decoder.decodeImage(craftGif({ ...base, codes: literalCodes(INDICES), subBlockBytes: 1 }), LIMIT),
    );
  });

  it('1,000 comment extensions before the image', async () => {
    expectGradient(
      await decoder.decodeImage(craftGif({ ...base, codes: literalCodes(INDICES), comments: 1000 }), LIMIT),
    );
  });

  it('a million clear codes before the data', async () => {
    const gif = craftGif({ ...base, codes: literalCodes(INDICES, 1_000_000) });
    expect(gif.length).toBeGreaterThan(1_000_000);
    expectGradient(await decoder.decodeImage(gif, LIMIT));
  });

  it('LZW at its maximum expansion: 16 MP of one index from a ~6 KB file', async () => {
    const gif = craftGif({ screen: [4000, 4000], frame: [4000, 4000], codes: solidCodes(16_000_000) });
    expect(gif.length).toBeLessThan(10_000);
    const image = await decoder.decodeImage(gif, LIMIT);
    expect(image.data.length).toBe(48_000_000);
    expect(image.data.every((v) => v === 0)).toBe(true);
  });

  it('a 4000×4000 canvas around a 1×1 frame is the fill colour but for that pixel', async () => {
    const gif = craftGif({ screen: [4000, 4000], frame: [1, 1], codes: literalCodes([200]) });
    const image = await decoder.decodeImage(gif, LIMIT);
    expect([image.width, image.height, image.data[0], image.data[3], image.data[image.data.length - 1]]).toEqual([
      4000, 4000, 200, 0, 0,
    ]);
  });
});

describe('long decodes yield to the event loop', () => {
  it('GIF: a timer set before a 16 MP decode runs during it', async () => {
    const gif = craftGif({ screen: [4000, 4000], frame: [4000, 4000], codes: solidCodes(16_000_000) });
    expect(await timerRunsDuring(() => decoder.decodeImage(gif, LIMIT))).toBe(true);
  });
});
