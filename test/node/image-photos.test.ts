/**
 * Real, large files: the 12 MP phone photo (stored sideways, EXIF orientation 6) and the 14.7 MP photo decode to
 * exactly what sharp (libvips with mozjpeg, auto-orienting) decodes, and large PNGs encoded by sharp from a photo
 * (8-bit RGB; 16-bit RGBA, Adam7) decode to sharp's pixels, high bytes of the 16-bit samples. Once its result is
 * dropped, a 12 MP decode leaves no memory behind (no grown wasm heap, no copy of the image).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createImageDecoder, type ImageDecoder } from '../../worker/image/decode.js';
import { loadImageWasmModules } from '../../worker/image/wasm-node.js';

const PHOTOS = path.resolve(import.meta.dirname, '../../../shared/images/photos');
const LIMIT = { maxPixels: 20_000_000 };

let decoder: ImageDecoder;
beforeAll(async () => {
  decoder = createImageDecoder(await loadImageWasmModules());
});

/** Index of the first differing byte, or -1: a full-size toEqual diff would be unreadable. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('memory', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  /** ArrayBuffer backing stores and wasm memories, after garbage collection. */
  async function externalMemory(): Promise<number> {
    for (let i = 0; i < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      gc();
    }
    return process.memoryUsage().external;
  }
  const MB = 1024 * 1024;

  it('a 12 MP JPEG decode keeps nothing once its result is dropped', async () => {
    const photo = new Uint8Array(readFileSync(path.join(PHOTOS, 'phone-4032x3024-exif6.jpg')));
    const fresh = createImageDecoder(await loadImageWasmModules()); // no decoder instance yet
    const baseline = await externalMemory();
    let image: { data: Uint8Array } | undefined = await fresh.decodeImage(photo, LIMIT);
    const holding = await externalMemory();
    expect(image.data.length).toBe(3024 * 4032 * 3);
    image = undefined;
    const released = await externalMemory();
    // The measure sees the 35 MiB result while it is held…
    expect((holding - baseline) / MB).toBeGreaterThan(30);
    // …and nothing once it is dropped: before the fix, the first decoder instance (57 MB heap + 47 MB RGBA) stayed.
    expect((released - baseline) / MB).toBeLessThan(8);
  });
});

describe('photos', () => {
  it.each([
    ['phone-4032x3024-exif6.jpg', 3024, 4032],
    ['safe-landing-5120x2880.jpg', 5120, 2880],
  ])('%s decodes upright to %i×%i, identical to sharp', async (file, width, height) => {
    const bytes = new Uint8Array(readFileSync(path.join(PHOTOS, file)));
    const image = await decoder.decodeImage(bytes, LIMIT);
    expect([image.width, image.height]).toEqual([width, height]);
    const reference = await sharp(bytes).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([reference.info.width, reference.info.height]).toEqual([width, height]);
    expect(firstDifference(image.data, reference.data)).toBe(-1);
  });
});

describe('large PNGs', () => {
  let photo: sharp.Sharp;
  beforeAll(() => {
    photo = sharp(readFileSync(path.join(PHOTOS, 'colorful-cups-2560x1600.jpg'))).resize(1400, 875);
  });

  it('8-bit RGB, default filters and compression', async () => {
    const png = await photo.clone().png().toBuffer();
    const image = await decoder.decodeImage(png, LIMIT);
    const reference = await sharp(png).raw().toBuffer();
    expect([image.width, image.height]).toEqual([1400, 875]);
    expect(firstDifference(image.data, reference)).toBe(-1);
  });

  it('16-bit RGBA, Adam7: the high byte of each colour sample, alpha dropped', async () => {
    const png = await photo.clone().ensureAlpha(0.5).toColourspace('rgb16').png({ progressive: true }).toBuffer();
    expect([png[24], png[25], png[28]]).toEqual([16, 6, 1]); // bit depth, colour type RGBA, Adam7
    const image = await decoder.decodeImage(png, LIMIT);
    const { data } = await sharp(png).toColourspace('rgb16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    const samples = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    const highBytes = Uint8Array.from({ length: 1400 * 875 * 3 }, (_, i) => samples[Math.floor(i / 3) * 4 + (i % 3)] >> 8);
    expect(firstDifference(image.data, highBytes)).toBe(-1);
  });
});
