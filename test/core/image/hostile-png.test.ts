/**
 * Crafted PNGs whose cost came from their chunking, on the real decoder: decoding work follows the image, not its chunking. A PNG split into
 * one-byte IDAT chunks is refused (413 image-too-complex) before anything is inflated; a PNG of the same pixels in
 * small-but-legal chunks decodes to the same pixels as one in a single chunk.
 */
import { problemStatus } from '../../../worker/api/problems.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { createImageDecoder, type ImageDecoder } from '../../../worker/core/image/decode.js';
import { coalescedSlices, maxIdatChunks } from '../../../worker/core/image/png.js';
import { loadImageWasmModules } from '../../../worker/runtimes/node/image-wasm.js';
import { grayPng, oneByteIdatPng } from '../../helpers/hostile-png.js';
import { decodeError } from '../../helpers/image-error.js';

const LIMIT = { maxPixels: 16_000_000 };
let decoder: ImageDecoder;
beforeAll(async () => {
  decoder = createImageDecoder(await loadImageWasmModules());
});

describe('PNG chunking', () => {
  it('refuses 1100×1100 in one-byte IDAT chunks with image-too-complex', async () => {
    const error = await decodeError(decoder.decodeImage(oneByteIdatPng(), LIMIT));
    expect(error.code).toBe('image-too-complex');
    expect(problemStatus(error.code)).toBe(413);
    expect(error.details.limit).toBe(
      maxIdatChunks({ width: 1100, height: 1100, bitDepth: 8, colorType: 0, interlaced: false }),
    );
  });

  it('decodes small chunks (at the cap) to the same pixels as one chunk', async () => {
    const whole = await decoder.decodeImage(grayPng(300, 200, 1 << 20), LIMIT);
    const cap = maxIdatChunks({ width: 300, height: 200, bitDepth: 8, colorType: 0, interlaced: false });
    const bytes = Math.ceil((200 * 301 + 64) / (cap - 1));
    const chopped = await decoder.decodeImage(grayPng(300, 200, bytes), LIMIT);
    expect(chopped.data).toEqual(whole.data);
  });

  it('coalesces chunks into slices of the inflater size, whatever their sizes', () => {
    const parts = [new Uint8Array([1]), new Uint8Array([2, 3, 4, 5, 6]), new Uint8Array(0), new Uint8Array([7, 8, 9])];
    const slices = [...coalescedSlices(parts, 4)].map((s) => [...s]);
    expect(slices).toEqual([[1, 2, 3, 4], [5, 6, 7, 8], [9]]);
  });
});
