/**
 * Every fixture in test/fixtures/images (see scripts/make-image-fixtures.ts): each decodable file decodes to its
 * expected upright RGB bytes (exactly, or within its stated tolerance for lossy files), its header probe reports
 * format, upright size and orientation, and each bad file fails with its ImageError code and HTTP status.
 */
import { problemStatus } from '../../../worker/api/problems.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createImageDecoder, probeImage, type ImageDecoder } from '../../../worker/core/image/decode.js';
import { loadImageWasmModules } from '../../../worker/runtimes/node/image-wasm.js';
import manifest from '../../fixtures/images/manifest.json';
import { decodeError } from '../../helpers/image-error.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/images');
const read = (file: string) => new Uint8Array(readFileSync(path.join(FIXTURES, file)));
const STATUS = { 'unsupported-format': 415, 'corrupt-image': 422, 'too-many-pixels': 413 } as const;

function maxDifference(actual: Uint8Array, expected: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(actual[i] - expected[i]));
  return max;
}

let decoder: ImageDecoder;
beforeAll(async () => {
  decoder = createImageDecoder(await loadImageWasmModules());
});

/**
 * Manifest entries written for the previous JPEG decoder, which refused CMYK and arithmetic coding. wasm/jpeg decodes
 * both: jpeg-cmyk.jpg now decodes (its expected RGB is computed in image-jpeg.test.ts), and jpeg-arithmetic.jpg, a
 * frame header with no scan after it, is now read as what it is, a truncated file.
 */
const NOW_DECODED = new Set(['jpeg-cmyk.jpg']);
const NOW_FAILING_AS: Record<string, string> = { 'jpeg-arithmetic.jpg': 'corrupt-image' };

const decodable = manifest.fixtures.filter((f) => f.expected !== undefined);
const failing = manifest.fixtures
  .filter((f) => f.error !== undefined && !NOW_DECODED.has(f.file))
  .map((f) => ({ ...f, error: NOW_FAILING_AS[f.file] ?? f.error }));

describe('decodable fixtures', () => {
  it.each(decodable)('$file ($variant)', async (fixture) => {
    const bytes = read(fixture.file);
    const expected = read(`expected/${fixture.expected}`);

    expect(probeImage(bytes)).toEqual({
      format: fixture.format,
      width: fixture.width,
      height: fixture.height,
      orientation: fixture.orientation ?? 1,
    });

    const image = await decoder.decodeImage(bytes, { maxPixels: manifest.hugeLimit });
    expect(image.format).toBe(fixture.format);
    expect([image.width, image.height]).toEqual([fixture.width, fixture.height]);
    expect(image.data.length).toBe(fixture.width! * fixture.height! * 3);
    expect(maxDifference(image.data, expected)).toBeLessThanOrEqual(fixture.tolerance!);
  });

  it('the lossless variants decode to the synthetic pattern itself', () => {
    const pattern = manifest.pattern;
    const exact = [
      'png-rgb8.png',
      'png-rgb8-interlaced.png',
      'png-rgba8.png',
      'png-rgb16.png',
      'png-rgb8-filters.png',
      'webp-lossless.webp',
    ];
    for (const file of exact) expect(manifest.fixtures.find((f) => f.file === file)?.expected, file).toBe(pattern);
  });
});

describe('failing fixtures', () => {
  it.each(failing)('$file ($variant) → $error', async (fixture) => {
    const error = await decodeError(decoder.decodeImage(read(fixture.file), { maxPixels: manifest.hugeLimit }));
    expect(error.code).toBe(fixture.error);
    expect(problemStatus(error.code)).toBe(STATUS[fixture.error as keyof typeof STATUS]);
  });
});

describe('the pixel limit is checked on the header, before decoding', () => {
  it('a header claiming huge dimensions is refused as too-many-pixels, not decoded', async () => {
    // The file has no image data: were it decoded, it would fail as corrupt-image (as it does with no limit).
    const bytes = read('png-huge.png');
    expect(probeImage(bytes)).toMatchObject({ format: 'png', width: 100_000, height: 100_000 });
    const refused = await decodeError(decoder.decodeImage(bytes, { maxPixels: manifest.hugeLimit }));
    expect(refused.code).toBe('too-many-pixels');
    expect(refused.details).toEqual({ width: 100_000, height: 100_000, limit: manifest.hugeLimit });
    const attempted = await decodeError(decoder.decodeImage(bytes, { maxPixels: Number.MAX_SAFE_INTEGER }));
    expect(attempted.code).toBe('corrupt-image');
  });

  const oneOfEach = ['png-rgb8.png', 'jpeg-baseline.jpg', 'webp-lossy.webp', 'gif-basic.gif'];
  it.each(oneOfEach)('%s: exactly at the limit decodes, one pixel over does not', async (file) => {
    const bytes = read(file);
    const pixels = manifest.width * manifest.height;
    await expect(decoder.decodeImage(bytes, { maxPixels: pixels })).resolves.toMatchObject({ width: manifest.width });
    expect((await decodeError(decoder.decodeImage(bytes, { maxPixels: pixels - 1 }))).code).toBe('too-many-pixels');
  });

  it('the probe needs only the header: a 12 MP JPEG cut right after its frame header', () => {
    const photo = new Uint8Array(
      readFileSync(path.resolve(import.meta.dirname, '../../../../shared/images/photos/phone-4032x3024-exif6.jpg')),
    );
    const startOfScan = photo.findIndex((value, i) => value === 0xff && photo[i + 1] === 0xda);
    expect(startOfScan).toBeGreaterThan(0);
    // Stored 4032×3024, EXIF orientation 6: upright it is portrait.
    expect(probeImage(photo.subarray(0, startOfScan))).toEqual({
      format: 'jpeg',
      width: 3024,
      height: 4032,
      orientation: 6,
    });
  });
});

describe('unsupported formats', () => {
  it('the error names what the bytes look like', async () => {
    const bmp = await decodeError(decoder.decodeImage(read('bmp-header.bmp'), { maxPixels: 1e6 }));
    expect(bmp.code).toBe('unsupported-format');
    expect(bmp.message).toContain('BMP');
  });
});
