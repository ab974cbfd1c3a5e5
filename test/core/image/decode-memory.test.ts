/**
 * The decode memory budget in the image modules: each codec's statement from the header (decodeMemory), an image
 * whose statement is one byte over the budget refused before decoding with too-many-pixels 413 naming the most
 * pixels such an image may have, one whose statement is exactly the budget decoded to the same pixels as without a
 * budget; the JPEG decoder's wasm memory capped at the budget; and the GIF decoder, which no longer holds an index
 * buffer, still exact on frames of many index runs.
 */
import { problemStatus } from '../../../worker/api/problems.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { createJpegDecoder, JpegDecodeError } from '../../../wasm/jpeg/index.js';
import { createImageDecoder, decodeMemory, probeImage, type ImageDecoder } from '../../../worker/core/image/decode.js';
import { createJpegCodec } from '../../../worker/core/image/jpeg.js';
import { maxPixelsWithin, MiB } from '../../../worker/core/image/memory.js';
import { loadImageWasmModules } from '../../../worker/runtimes/node/image-wasm.js';
import type { ImageWasmModules } from '../../../worker/core/image/wasm.js';
import { decodeError } from '../../helpers/image-error.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/images');
const read = (file: string) => new Uint8Array(readFileSync(path.join(FIXTURES, file)));
const NO_LIMIT = { maxPixels: 1e9 };
const SHORT_SIDE = 256;

let wasm: ImageWasmModules;
let decoder: ImageDecoder;
beforeAll(async () => {
  wasm = await loadImageWasmModules();
  decoder = createImageDecoder(wasm);
});

/** A 4000×4000 (16 MP) progressive 4:2:0 JPEG of one colour: libjpeg holds 48 MB of coefficients for it. */
const progressive16Mp = async () =>
  new Uint8Array(
    await sharp({ create: { width: 4000, height: 4000, channels: 3, background: { r: 90, g: 140, b: 200 } } })
      .jpeg({ progressive: true, quality: 50 })
      .toBuffer(),
  );

describe('statements', () => {
  it('PNG and GIF: 3 bytes per pixel (the RGB result), whatever the colour type and bit depth', () => {
    for (const file of [
      'png-rgb8.png',
      'png-rgba16.png',
      'png-palette1.png',
      'png-gray-alpha16.png',
      'gif-basic.gif',
      'gif-interlaced.gif',
    ]) {
      expect(decodeMemory(read(file)).bytesPerPixel, file).toBe(3);
    }
    expect(decodeMemory(read('png-rgba16.png')).variant).toBe('16-bit RGBA PNG');
  });

  it('WebP: the heap with its overgrowth plus the RGBA copy, by kind', () => {
    expect(decodeMemory(read('webp-lossy.webp'))).toMatchObject({ variant: 'lossy WebP', bytesPerPixel: 1.2 * 4 + 4 });
    expect(decodeMemory(read('webp-lossy-alpha.webp'))).toMatchObject({
      variant: 'lossy WebP with alpha',
      bytesPerPixel: 1.2 * 9 + 4,
    });
    expect(decodeMemory(read('webp-lossless.webp'))).toMatchObject({
      variant: 'lossless WebP',
      bytesPerPixel: 1.2 * 8 + 4,
    });
  });

  it('JPEG: the coefficients only for progressive files, and the output at the decode scale', async () => {
    expect(decodeMemory(read('jpeg-baseline.jpg'))).toMatchObject({ variant: 'baseline JPEG 4:2:0', bytesPerPixel: 3 });
    expect(decodeMemory(read('jpeg-444.jpg'))).toMatchObject({ variant: 'baseline JPEG 4:4:4', bytesPerPixel: 3 });
    // 4:2:0 coefficients: 1.5 samples per pixel × 2 bytes, plus the RGB output.
    expect(decodeMemory(read('jpeg-progressive.jpg'))).toMatchObject({
      variant: 'progressive JPEG 4:2:0',
      bytesPerPixel: 3 + 3,
    });
    // One component: 1 byte per pixel out of the decoder, and its RGB conversion.
    const gray = new Uint8Array(await sharp(read('jpeg-baseline.jpg')).toColourspace('b-w').jpeg().toBuffer());
    expect(decodeMemory(gray)).toMatchObject({ variant: 'baseline JPEG grayscale', bytesPerPixel: 1 + 3 });
    // Decoded at 1/4 (short side 2400 for a 256 resize): the output per stored pixel is 1/16.
    const large = new Uint8Array(await sharp(read('jpeg-baseline.jpg')).resize(3000, 2400).jpeg().toBuffer());
    expect(decodeMemory(large, { minShortSide: 256 })).toMatchObject({
      variant: 'baseline JPEG 4:2:0 decoded at 1/4',
      bytesPerPixel: 3 / 16,
    });
  });

  it('an EXIF orientation other than 1 adds the upright copy', () => {
    expect(
      decodeMemory(read('jpeg-exif6.jpg')).bytesPerPixel - decodeMemory(read('jpeg-exif1.jpg')).bytesPerPixel,
    ).toBe(3);
    expect(decodeMemory(read('png-exif6.png')).bytesPerPixel).toBe(3 + 3);
  });

  it("a JPEG's statement covers its decoder's wasm memory and the pixels, at every scale", async () => {
    const photo = new Uint8Array(
      readFileSync(path.resolve(import.meta.dirname, '../../../../shared/images/photos/safe-landing-5120x2880.jpg')),
    );
    const progressive = new Uint8Array(await sharp(photo).resize(1600, 900).jpeg({ progressive: true }).toBuffer());
    for (const [bytes, minShortSide, scaleDenom] of [
      [photo, 256, 4],
      [photo, 512, 2],
      [progressive, undefined, 1],
      [progressive, 200, 2],
    ] as const) {
      const stated = decodeMemory(bytes, { minShortSide });
      expect(stated.variant).toMatch(scaleDenom === 1 ? /JPEG 4:2:0$/ : new RegExp(`at 1/${scaleDenom}$`));
      const decoded = await createJpegCodec(wasm.jpeg).decode(bytes, { scaleDenom });
      expect(stated.bytes).toBeGreaterThanOrEqual(decoded.decoderMemoryBytes + decoded.data.length);
    }
  });
});

describe('the budget is checked on the header, before decoding', () => {
  const FILES = [
    'png-rgb8.png',
    'png-rgba16.png',
    'png-rgb8-interlaced.png',
    'png-exif6.png',
    'gif-basic.gif',
    'gif-offset-frame.gif',
    'webp-lossy.webp',
    'webp-lossy-alpha.webp',
    'webp-lossless.webp',
    'webp-exif6.webp',
    'jpeg-baseline.jpg',
    'jpeg-progressive.jpg',
    'jpeg-exif6.jpg',
  ];

  it.each(FILES)(
    '%s: one byte over its statement is 413 too-many-pixels with the limit; exactly its statement decodes the same pixels',
    async (file) => {
      const bytes = read(file);
      const stated = decodeMemory(bytes, { minShortSide: SHORT_SIDE });
      const { format } = probeImage(bytes);
      const header = probeImage(bytes);
      // The extensions give the stored size, as the pixel limit's do.
      const [width, height] = header.orientation >= 5 ? [header.height, header.width] : [header.width, header.height];
      const budget = stated.bytes - 1;

      const error = await decodeError(
        decoder.decodeImage(bytes, { ...NO_LIMIT, minShortSide: SHORT_SIDE, maxDecodeBytes: budget }),
      );
      expect([error.code, problemStatus(error.code)]).toEqual(['too-many-pixels', 413]);
      const limit = maxPixelsWithin(stated, budget);
      expect(error.details).toEqual({ width, height, limit });
      expect(limit).toBeLessThan(width * height);
      expect(error.message).toContain(`the ${format} image is ${width}×${height}`);
      expect(error.message).toContain(stated.variant);
      expect(error.message).toContain(`at most ${limit} pixels`);

      const unlimited = await decoder.decodeImage(bytes, { ...NO_LIMIT, minShortSide: SHORT_SIDE });
      const atBudget = await decoder.decodeImage(bytes, {
        ...NO_LIMIT,
        minShortSide: SHORT_SIDE,
        maxDecodeBytes: stated.bytes,
      });
      expect([atBudget.width, atBudget.height]).toEqual([unlimited.width, unlimited.height]);
      expect(Buffer.from(atBudget.data).equals(Buffer.from(unlimited.data))).toBe(true);
    },
  );

  it('the pixel limit is still checked first, and reported as before', async () => {
    const bytes = read('png-rgb8.png');
    const error = await decodeError(decoder.decodeImage(bytes, { maxPixels: 45 * 30 - 1, maxDecodeBytes: 1 }));
    expect(error.details).toEqual({ width: 45, height: 30, limit: 45 * 30 - 1 });
    expect(error.message).toMatch(/the limit is 1349$/);
  });

  it('a 16 MP progressive JPEG is refused at 40 MiB, not half-decoded; without a budget the decoder still holds it', async () => {
    const big = await progressive16Mp();
    const options = { maxPixels: 16_000_000, minShortSide: SHORT_SIDE };
    const error = await decodeError(decoder.decodeImage(big, { ...options, maxDecodeBytes: 40 * MiB }));
    expect([error.code, problemStatus(error.code)]).toEqual(['too-many-pixels', 413]);
    expect(error.message).toMatch(
      /progressive JPEG 4:2:0 decoded at 1\/4\) takes up to 5\d\.\d MiB, over the 40\.0 MiB decode budget/,
    );
    expect(error.details.limit).toBeGreaterThan(10_000_000);
    expect(error.details.limit).toBeLessThan(12_000_000);
    // No budget: the decoder's default 64 MiB cap holds the 48 MB of coefficients.
    expect((await decoder.decodeImage(big, options)).width).toBe(1000);
  });
});

describe("the JPEG decoder's memory cap follows the budget", () => {
  it('a decode whose coefficients exceed the cap fails with too-many-pixels 413; the next decode is unaffected', async () => {
    const big = await progressive16Mp();
    const codec = createJpegCodec(wasm.jpeg);
    for (const maxMemoryBytes of [40 * MiB, 1 * MiB, 1000]) {
      const error = await decodeError(codec.decode(big, { scaleDenom: 4, maxMemoryBytes }));
      expect([error.code, problemStatus(error.code)]).toEqual(['too-many-pixels', 413]);
    }
    const decoded = await codec.decode(big, { scaleDenom: 4, maxMemoryBytes: 56 * MiB });
    expect([decoded.width, decoded.height]).toEqual([1000, 1000]);
    expect(decoded.decoderMemoryBytes).toBeLessThanOrEqual(56 * MiB);
  });

  it("wasm/jpeg: a per-call cap only tightens the decoder's own; below it (even below the initial 1 MiB) the decode is image-too-large", async () => {
    const bytes = new Uint8Array(
      await sharp(read('jpeg-baseline.jpg')).resize(1200, 900).jpeg({ progressive: true }).toBuffer(),
    );
    const jpeg = createJpegDecoder(wasm.jpeg, { maxMemoryBytes: 8 * MiB });
    const full = jpeg.decode(bytes, { maxMemoryBytes: 64 * MiB }); // cannot loosen the decoder's 8 MiB
    expect(full.wasmMemoryBytes).toBeLessThanOrEqual(8 * MiB);
    for (const maxMemoryBytes of [2 * MiB, 0.5 * MiB]) {
      const error = (() => {
        try {
          jpeg.decode(bytes, { maxMemoryBytes });
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(JpegDecodeError);
      expect((error as JpegDecodeError).code).toBe('image-too-large');
    }
    expect(Buffer.from(jpeg.decode(bytes, { maxMemoryBytes: 6 * MiB }).data).equals(Buffer.from(full.data))).toBe(true);
  });
});

describe('GIF decodes without a full-frame index buffer', () => {
  // Frames of many 64 Ki index runs, with and without interlacing, against sharp's decode of the same file.
  it.each([false, true])(
    'a 640×480 photo-like GIF (interlaced: %s) decodes to exactly sharp’s pixels',
    async (interlace) => {
      const photo = path.resolve(import.meta.dirname, '../../../../shared/images/photos/colorful-cups-2560x1600.jpg');
      const gif = new Uint8Array(
        await sharp(photo).resize(640, 480).gif({ progressive: interlace, effort: 1 }).toBuffer(),
      );
      const expected = await sharp(gif).removeAlpha().raw().toBuffer();
      const decoded = await decoder.decodeImage(gif, NO_LIMIT);
      expect([decoded.width, decoded.height]).toEqual([640, 480]);
      expect(Buffer.from(decoded.data).equals(expected)).toBe(true);
    },
  );
});
