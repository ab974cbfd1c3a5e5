/**
 * Bad input never crashes, hangs or poisons a decoder: every prefix of a file and seeded random corruptions either
 * decode or fail with an ImageError; after a decoder failure (a libjpeg error, a libwebp refusal) the next decode
 * is exact again, also when good and bad images are decoded concurrently.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { seededRandom as seededRandomStream } from '../../helpers/random.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { createImageDecoder, type ImageDecoder } from '../../../worker/core/image/decode.js';
import { ImageError } from '../../../worker/core/image/errors.js';
import { loadImageWasmModules } from '../../../worker/runtimes/node/image-wasm.js';
import manifest from '../../fixtures/images/manifest.json';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/images');
const read = (file: string) => new Uint8Array(readFileSync(path.join(FIXTURES, file)));
const expectedOf = (file: string) => read(`expected/${manifest.fixtures.find((f) => f.file === file)!.expected}`);
const LIMIT = { maxPixels: 4_000_000 };
/** The manifest predates wasm/jpeg: its arithmetic-coded fixture (a frame header, no scan) is truncated data now. */
const errorOf = (file: string) =>
  file === 'jpeg-arithmetic.jpg' ? 'corrupt-image' : manifest.fixtures.find((f) => f.file === file)!.error;

let decoder: ImageDecoder;
beforeAll(async () => {
  decoder = createImageDecoder(await loadImageWasmModules());
});

/** 'ok', or the ImageError code; anything else thrown fails the test. */
async function outcome(bytes: Uint8Array): Promise<string> {
  try {
    await decoder.decodeImage(bytes, LIMIT);
    return 'ok';
  } catch (error) {
    if (!(error instanceof ImageError)) throw error;
    return error.code;
  }
}

const seededRandom = (seed: number): (() => number) => seededRandomStream(seed).uniform;

const SAMPLES = [
  'png-rgb8-interlaced.png',
  'png-palette2.png',
  'gif-interlaced.gif',
  'gif-offset-frame.gif',
  'jpeg-progressive.jpg',
  'jpeg-exif6.jpg',
  'jpeg-cmyk.jpg',
  'webp-lossy-alpha.webp',
  'webp-lossless.webp',
];

describe('truncation at every length', () => {
  it.each(SAMPLES)('%s', async (file) => {
    const bytes = read(file);
    const seen = new Map<string, number>();
    // At most ~400 cut points per file, always including the first bytes (signature and header).
    const step = Math.max(1, Math.floor(bytes.length / 400));
    for (let length = 0; length < bytes.length; length += length < 64 ? 1 : step) {
      const result = await outcome(bytes.slice(0, length));
      seen.set(result, (seen.get(result) ?? 0) + 1);
      // Cut inside the signature: not recognisable; otherwise the format is known and the data is incomplete.
      expect(['unsupported-format', 'corrupt-image', 'ok'], `${file} cut at ${length}`).toContain(result);
    }
    expect(seen.get('corrupt-image')).toBeGreaterThan(0);
  });
});

describe('random corruption', () => {
  it.each(SAMPLES)('%s: 150 corrupted copies', async (file) => {
    const original = read(file);
    const random = seededRandom(file.length * 7919);
    for (let copy = 0; copy < 150; copy++) {
      const bytes = original.slice();
      const flips = 1 + Math.floor(random() * 8);
      for (let i = 0; i < flips; i++) {
        // Keep the signature so the corruption reaches the format's own parser and decoder.
        const at = 16 + Math.floor(random() * (bytes.length - 16));
        bytes[at] = Math.floor(random() * 256);
      }
      expect(['ok', 'corrupt-image', 'unsupported-format', 'too-many-pixels'], `${file} copy ${copy}`).toContain(
        await outcome(bytes),
      );
    }
  });
});

describe('a decoder failure does not affect the next decode', () => {
  it.each([
    ['jpeg-arithmetic.jpg', 'jpeg-baseline.jpg'],
    ['jpeg-bad-marker.jpg', 'jpeg-progressive.jpg'],
    ['jpeg-truncated.jpg', 'jpeg-gray.jpg'],
    ['webp-corrupt.webp', 'webp-lossy.webp'],
    ['webp-truncated.webp', 'webp-lossless-alpha.webp'],
    ['gif-lzw-cycle.gif', 'gif-basic.gif'],
    ['png-bad-zlib.png', 'png-rgb8.png'],
  ])('%s, then %s', async (bad, good) => {
    expect(await outcome(read(bad))).not.toBe('ok');
    const image = await decoder.decodeImage(read(good), LIMIT);
    expect(image.data).toEqual(expectedOf(good));
  });

  it('good and bad JPEG and WebP decodes interleaved concurrently all get their own result', async () => {
    const files = ['jpeg-baseline.jpg', 'jpeg-bad-marker.jpg', 'jpeg-444.jpg', 'jpeg-truncated.jpg'];
    files.push('webp-lossy.webp', 'webp-corrupt.webp', 'jpeg-exif8.jpg', 'jpeg-arithmetic.jpg');
    const rounds = [...files, ...files, ...files];
    const results = await Promise.all(
      rounds.map((file) =>
        decoder.decodeImage(read(file), LIMIT).then(
          (image) => image.data,
          (error: unknown) => error,
        ),
      ),
    );
    rounds.forEach((file, i) => {
      const error = errorOf(file);
      if (error) expect(results[i], file).toMatchObject({ code: error });
      else expect(results[i], file).toEqual(expectedOf(file));
    });
  });
});
