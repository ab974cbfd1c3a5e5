/**
 * Real, large files: the 12 MP phone photo (stored sideways, EXIF orientation 6) and the 14.7 MP photo decode to
 * exactly what sharp (libvips with libjpeg, auto-orienting) decodes, and large PNGs encoded by sharp from a photo
 * (8-bit RGB; 16-bit RGBA, Adam7) decode to sharp's pixels, high bytes of the 16-bit samples. Once its result is
 * dropped, a 12 MP decode leaves no memory behind (no grown wasm heap, no copy of the image). Decoded for the
 * preprocessing (DCT-scaled), the photos come out upright at 1/4 or 1/2, close to sharp's full decode averaged down,
 * giving the model nearly the same input, in a few MB instead of the ~145 MB the previous decoder peaked at.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_PREPROCESSING } from '../../../worker/core/manifest/manifest.js';
import { createImageDecoder, type ImageDecoder } from '../../../worker/core/image/decode.js';
import { createJpegCodec, jpegScaleDenom, probeJpeg } from '../../../worker/core/image/jpeg.js';
import type { RgbImage } from '../../../worker/core/image/types.js';
import { loadImageWasmModules } from '../../../worker/runtimes/node/image-wasm.js';
import { preprocess } from '../../../worker/core/preprocess/transform.js';

const PHOTOS = path.resolve(import.meta.dirname, '../../../../shared/images/photos');
const LIMIT = { maxPixels: 20_000_000 };
const FOR_MODEL = { ...LIMIT, minShortSide: IMAGENET_PREPROCESSING.resizeShortSide };
const MB = 1024 * 1024;

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
    // …and nothing once it is dropped (with @jsquash/jpeg, the first decoder instance's 57 MB heap + 47 MB RGBA once
    // stayed).
    expect((released - baseline) / MB).toBeLessThan(8);
  });

  /**
   * The peak of a decode is the decoder's wasm memory (input copy + libjpeg's working set; freed on return) plus the
   * RGB result and, for a rotated photo, its upright copy. Those sizes are deterministic for a given file, so they are
   * asserted here rather than process RSS, which GC timing and the other tests running on the machine make noisy.
   * Before (@jsquash/jpeg, full-size RGBA): 57 MB of wasm heap + 47 MB RGBA + 36 MB upright RGB, ~145 MB RSS growth.
   */
  it('decoded for the preprocessing, the 12 MP photo needs < 8 MiB of decoder memory and a 2.3 MB result', async () => {
    const photo = new Uint8Array(readFileSync(path.join(PHOTOS, 'phone-4032x3024-exif6.jpg')));
    const header = probeJpeg(photo);
    const scaleDenom = jpegScaleDenom(header.width, header.height, FOR_MODEL.minShortSide);
    expect(scaleDenom).toBe(4);
    const stored = await createJpegCodec((await loadImageWasmModules()).jpeg).decode(photo, { scaleDenom });
    expect([stored.width, stored.height, stored.channels]).toEqual([1008, 756, 3]);
    // Measured 4.4 MB (3.0 MB of it the input copy); the limit leaves room for a libjpeg-turbo update.
    expect(stored.decoderMemoryBytes).toBeLessThan(8 * MB);

    const image = await decoder.decodeImage(photo, FOR_MODEL);
    expect([image.width, image.height]).toEqual([756, 1008]);
    expect(image.data.length).toBe(756 * 1008 * 3);
    // Whole path: decoder memory + result + upright copy, against 145 MB before.
    expect(stored.decoderMemoryBytes + 2 * image.data.length).toBeLessThan(16 * MB);
  });

  it('at full size the decoder memory stays the same: rows stream out of wasm memory', async () => {
    const photo = new Uint8Array(readFileSync(path.join(PHOTOS, 'phone-4032x3024-exif6.jpg')));
    const stored = await createJpegCodec((await loadImageWasmModules()).jpeg).decode(photo);
    expect([stored.width, stored.height]).toEqual([4032, 3024]);
    expect(stored.decoderMemoryBytes).toBeLessThan(8 * MB);
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

/** Mean of each denom×denom block of an RGB image (clipped at the right and bottom edges), rounded up in size as
 *  libjpeg rounds scaled sizes. */
function boxDownsample(image: RgbImage, denom: number): Float64Array {
  const width = Math.ceil(image.width / denom);
  const height = Math.ceil(image.height / denom);
  const out = new Float64Array(width * height * 3);
  const counts = new Float64Array(width * height);
  for (let y = 0; y < image.height; y++) {
    const row = Math.floor(y / denom) * width;
    for (let x = 0; x < image.width; x++) {
      const o = row + Math.floor(x / denom);
      const i = (y * image.width + x) * 3;
      out[o * 3] += image.data[i];
      out[o * 3 + 1] += image.data[i + 1];
      out[o * 3 + 2] += image.data[i + 2];
      counts[o]++;
    }
  }
  for (let o = 0; o < counts.length; o++) for (let c = 0; c < 3; c++) out[o * 3 + c] /= counts[o];
  return out;
}

describe('photos decoded for the preprocessing (DCT-scaled)', () => {
  it('the 12 MP photo equals native libjpeg-turbo at 1/4, turned upright', async () => {
    // SHA-256 of Debian libjpeg-turbo 1:2.1.5-2 `djpeg -dct int -scale 1/4` output turned 90° clockwise (EXIF 6) with
    // numpy's rot90.
    const image = await decoder.decodeImage(
      new Uint8Array(readFileSync(path.join(PHOTOS, 'phone-4032x3024-exif6.jpg'))),
      FOR_MODEL,
    );
    expect([image.width, image.height]).toEqual([756, 1008]);
    expect(createHash('sha256').update(image.data).digest('hex')).toBe(
      'cfff8da31b478de61ca02522a120eccaebee08af12fcdaabc22a35340d4b964d',
    );
  });

  it.each([
    ['phone-4032x3024-exif6.jpg', 4, 756, 1008],
    ['safe-landing-5120x2880.jpg', 4, 1280, 720],
    ['colorful-cups-2560x1600.jpg', 2, 1280, 800],
  ])("%s: at 1/%i, upright %i×%i, close to sharp's full decode averaged down", async (file, denom, width, height) => {
    const bytes = new Uint8Array(readFileSync(path.join(PHOTOS, file)));
    const image = await decoder.decodeImage(bytes, FOR_MODEL);
    expect([image.width, image.height]).toEqual([width, height]);
    // sharp orients too, so a wrong rotation or flip would show as a large difference.
    const reference = await sharp(bytes).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const averaged = boxDownsample(
      { width: reference.info.width, height: reference.info.height, data: reference.data },
      denom,
    );
    expect(averaged.length).toBe(image.data.length);
    let sum = 0;
    for (let i = 0; i < averaged.length; i++) sum += Math.abs(image.data[i] - averaged[i]);
    // libjpeg's reduced IDCT is not a box filter: measured mean |Δ| 0.49 (cups), 0.51 (phone), 0.91 (safe-landing)
    // per 8-bit sample; the same image turned 180° is ~85 away.
    expect(sum / averaged.length).toBeLessThanOrEqual(1.5);
  });

  it.each(['phone-4032x3024-exif6.jpg', 'safe-landing-5120x2880.jpg'])(
    '%s: the model input is within the parity bar (mean |Δ| ≤ 0.01) of the one from the full decode',
    async (file) => {
      const bytes = new Uint8Array(readFileSync(path.join(PHOTOS, file)));
      const reduced = preprocess(await decoder.decodeImage(bytes, FOR_MODEL), IMAGENET_PREPROCESSING);
      const full = preprocess(await decoder.decodeImage(bytes, LIMIT), IMAGENET_PREPROCESSING);
      let sum = 0;
      for (let i = 0; i < full.length; i++) sum += Math.abs(reduced[i] - full[i]);
      // Measured 0.0047 and 0.0067 (about a third of one 8-bit level after normalization).
      expect(sum / full.length).toBeLessThanOrEqual(0.01);
    },
  );
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
    const { data } = await sharp(png)
      .toColourspace('rgb16')
      .raw({ depth: 'ushort' })
      .toBuffer({ resolveWithObject: true });
    const samples = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    const highBytes = Uint8Array.from(
      { length: 1400 * 875 * 3 },
      (_, i) => samples[Math.floor(i / 3) * 4 + (i % 3)] >> 8,
    );
    expect(firstDifference(image.data, highBytes)).toBe(-1);
  });
});
