// The libjpeg-turbo wasm decoder (wasm/jpeg) against sharp's libjpeg decode, real files and generated JPEGs.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createJpegDecoder,
  JpegDecodeError,
  scaledSize,
  type DecodedJpeg,
  type JpegDecoder,
} from '../../../wasm/jpeg/index.js';
import { loadJpegWasmModule } from '../../../wasm/jpeg/node.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const shared = path.resolve(repoRoot, '../shared');
const sampleDir = path.join(shared, 'images/imagenet-sample');
const sampleFiles = readdirSync(sampleDir)
  .filter((f) => /\.jpe?g$/i.test(f))
  .sort();
const phonePhoto = path.join(shared, 'images/photos/phone-4032x3024-exif6.jpg');

let wasm: WebAssembly.Module;
let decoder: JpegDecoder;
beforeAll(async () => {
  wasm = await loadJpegWasmModule();
  decoder = createJpegDecoder(wasm);
});

/** sharp's decode with libvips' libjpeg defaults; keepIccProfile stops it converting tagged files to sRGB
 *  (PIL's convert('RGB') ignores ICC profiles too). */
async function sharpDecode(bytes: Uint8Array, colourspace?: 'b-w') {
  const image = colourspace ? sharp(bytes).toColourspace(colourspace) : sharp(bytes).keepIccProfile();
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data) };
}

/** A known RGB pattern: horizontal red ramp, vertical green ramp, blue checkerboard of 16-pixel squares. */
function pattern(width: number, height: number): sharp.Sharp {
  const px = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      px[i] = Math.round((x * 255) / (width - 1));
      px[i + 1] = Math.round((y * 255) / (height - 1));
      px[i + 2] = ((x >> 4) + (y >> 4)) % 2 ? 220 : 40;
    }
  }
  return sharp(px, { raw: { width, height, channels: 3 } });
}

/** Mean of each denom×denom block (clipped at the right and bottom edges). */
function boxDownsample(image: { width: number; height: number; channels: number; data: Uint8Array }, denom: number) {
  const { width, height, channels, data } = image;
  const out = scaledSize(width, height, denom as 1 | 2 | 4 | 8);
  const result = new Float64Array(out.width * out.height * channels);
  for (let oy = 0; oy < out.height; oy++) {
    for (let ox = 0; ox < out.width; ox++) {
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        let n = 0;
        for (let y = oy * denom; y < Math.min(height, oy * denom + denom); y++) {
          for (let x = ox * denom; x < Math.min(width, ox * denom + denom); x++) {
            sum += data[(y * width + x) * channels + c];
            n++;
          }
        }
        result[(oy * out.width + ox) * channels + c] = sum / n;
      }
    }
  }
  return result;
}

/**
 * DCT-domain scaling is not a box filter: libjpeg runs a reduced IDCT per block and upsamples chroma at the
 * reduced size. Against a box-downsampled full decode, measured on the imagenet samples and the 12 MP photo:
 * mean |diff| 0.40-0.60, 99th percentile ≤ 3.3. The tolerance is mean ≤ 1 and 99th percentile ≤ 4. The maximum
 * is not bounded: where an image edge cuts a block, libjpeg averages the encoder's padding too (up to ~28).
 */
function expectCloseToBox(scaled: DecodedJpeg, full: Parameters<typeof boxDownsample>[0], denom: number) {
  const reference = boxDownsample(full, denom);
  expect(scaled.data.length).toBe(reference.length);
  const diffs = Float64Array.from(scaled.data, (v, i) => Math.abs(v - reference[i])).sort();
  const mean = diffs.reduce((a, b) => a + b, 0) / diffs.length;
  expect(mean).toBeLessThanOrEqual(1);
  expect(diffs[Math.floor(diffs.length * 0.99)]).toBeLessThanOrEqual(4);
}

function expectDecodeError(fn: () => unknown, code: string, message?: RegExp) {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(JpegDecodeError);
  expect((caught as JpegDecodeError).code).toBe(code);
  if (message) expect((caught as JpegDecodeError).message).toMatch(message);
}

/** Offset of the first marker segment `FF code` before the first scan, or -1. */
function findSegment(bytes: Uint8Array, code: number): number {
  let p = 2;
  while (p + 4 <= bytes.length && bytes[p] === 0xff) {
    if (bytes[p + 1] === code) return p;
    if (bytes[p + 1] === 0xda) return -1;
    p += 2 + ((bytes[p + 2] << 8) | bytes[p + 3]);
  }
  return -1;
}

function lastIndexOfMarker(bytes: Uint8Array, code: number): number {
  for (let p = bytes.length - 2; p >= 0; p--) if (bytes[p] === 0xff && bytes[p + 1] === code) return p;
  return -1;
}

function patched(bytes: Uint8Array, offset: number, values: number[]): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy.set(values, offset);
  return copy;
}

describe('jpeg.wasm', () => {
  it('is standalone: imports only its memory and the error callback', () => {
    const imports = WebAssembly.Module.imports(wasm).map((i) => `${i.module}.${i.name}:${i.kind}`);
    expect(imports.sort()).toEqual(['env.jd_fail:function', 'env.memory:memory']);
  });
});

describe('scale 1/1 equals sharp (libvips + libjpeg-turbo defaults)', () => {
  it.each(sampleFiles)('%s', async (file) => {
    const bytes = readFileSync(path.join(sampleDir, file));
    const expected = await sharpDecode(bytes);
    const header = decoder.readHeader(bytes);
    const decoded = decoder.decode(bytes);
    expect({ width: header.width, height: header.height }).toEqual({ width: expected.width, height: expected.height });
    expect(header).toMatchObject({ components: 3, colorSpace: 'rgb', progressive: false });
    expect(decoded).toMatchObject({ width: expected.width, height: expected.height, colorSpace: 'rgb', channels: 3 });
    expect(Buffer.compare(decoded.data, expected.data)).toBe(0);
  });
});

describe('DCT-domain scaling', () => {
  const cases = sampleFiles.slice(0, 4).flatMap((file) => ([2, 4, 8] as const).map((denom) => [file, denom] as const));
  it.each(cases)('%s at 1/%i: ceil(size/denom), close to a box-downsampled full decode', async (file, denom) => {
    const bytes = readFileSync(path.join(sampleDir, file));
    const full = await sharpDecode(bytes);
    const scaled = decoder.decode(bytes, { scaleDenom: denom });
    expect(scaled.width).toBe(Math.ceil(full.width / denom));
    expect(scaled.height).toBe(Math.ceil(full.height / denom));
    expect(scaled.channels).toBe(3);
    expectCloseToBox(scaled, full, denom);
  });

  // SHA-256 of the RGB output of Debian bookworm's native libjpeg-turbo 2.1.5 (libjpeg-turbo-progs 1:2.1.5-2):
  // `djpeg -dct int -scale 1/N -ppm FILE`, PPM header removed.
  const nativeScaled: [string, 2 | 4 | 8, string][] = [
    ['imagenet-sample/n01440764_tench.JPEG', 2, '0629c8dfaaa5bc16ff0ec70559e74830d94447f7b5e269eacca06e23b20b829e'],
    ['imagenet-sample/n01440764_tench.JPEG', 4, '5be5aeccb2fa171da1317b2c828f71325002e75248a70091741cf52a585ea57a'],
    ['imagenet-sample/n01440764_tench.JPEG', 8, '48797c5132405d070ef129da49b30c304406a47a4f2315f1f2a96d0a7b7f7e9b'],
    [
      'imagenet-sample/n01644900_tailed_frog.JPEG',
      2,
      'ddcb0d245160e226a5ae32a0eff2e5bead70167b914eeac85a9ae0045cd645c4',
    ],
    [
      'imagenet-sample/n01644900_tailed_frog.JPEG',
      4,
      'c1241d293d1e60967b062038c30f1b011c190b03822ba25604168eeed9e44b4a',
    ],
    [
      'imagenet-sample/n01644900_tailed_frog.JPEG',
      8,
      '211d976d1d7d8ed042d119a1b38fd04a5772f87433d21b9437bfccb1f1393e59',
    ],
    ['imagenet-sample/n02051845_pelican.JPEG', 2, 'db9e6e806945c6e6442e03794757a9b701bdb4975c8b90b61cb444ea9ce4554d'],
    ['imagenet-sample/n02051845_pelican.JPEG', 4, '2db43fc04881bffd0b10d70b90b31e1fbb565ca6131229e3c0f03791dbdc6ccf'],
    ['imagenet-sample/n02051845_pelican.JPEG', 8, 'bb1288ab216bf4f0649b82399d094a32b13ce0a1f074ecc8fa5745d06c59a064'],
    ['photos/phone-4032x3024-exif6.jpg', 2, '08da212b79f82f35091ef3fd0ffb1b1666168d7b2aad54e407111735824e424d'],
    ['photos/phone-4032x3024-exif6.jpg', 4, 'a3068ae5f8a5674b8f03238d8794d338c5c3f09636f82c4a26e4cfd88776cba5'],
    ['photos/phone-4032x3024-exif6.jpg', 8, 'e1868c933b0b526f7bcfbdc5d44fa65b74d15fb778618b64ca2312c87f53606b'],
  ];
  it.each(nativeScaled)('%s at 1/%i equals native libjpeg-turbo (djpeg)', (file, denom, sha256) => {
    const decoded = decoder.decode(readFileSync(path.join(shared, 'images', file)), { scaleDenom: denom });
    expect(createHash('sha256').update(decoded.data).digest('hex')).toBe(sha256);
  });

  it('decodes the 12 MP phone photo at 1/4 in a small wasm heap', async () => {
    const bytes = readFileSync(phonePhoto);
    expect(decoder.readHeader(bytes)).toMatchObject({
      width: 4032,
      height: 3024,
      colorSpace: 'rgb',
      progressive: false,
    });
    const scaled = decoder.decode(bytes, { scaleDenom: 4 });
    // Stored orientation: EXIF rotation is the caller's business.
    expect(scaled).toMatchObject({ width: 1008, height: 756, channels: 3 });
    // Input copy (4.1 MB) plus libjpeg's row buffers; a full RGB decode alone would be 36.6 MB.
    expect(scaled.wasmMemoryBytes).toBeLessThanOrEqual(8 * 1024 * 1024);
    expectCloseToBox(scaled, await sharpDecode(bytes), 4);
  });
});

describe('generated JPEG variants', () => {
  it('progressive: header says so, 1/1 equals sharp, 1/4 close to box', async () => {
    // 4:4:4, because with 4:2:0 this pattern's hard blue edges make full-size fancy upsampling (the box
    // reference) and scaled chroma differ by a mean of 4; both outputs still equal native djpeg's.
    const bytes = new Uint8Array(
      await pattern(300, 200).jpeg({ quality: 90, progressive: true, chromaSubsampling: '4:4:4' }).toBuffer(),
    );
    expect(decoder.readHeader(bytes)).toEqual({
      width: 300,
      height: 200,
      components: 3,
      colorSpace: 'rgb',
      progressive: true,
    });
    const expected = await sharpDecode(bytes);
    const full = decoder.decode(bytes);
    expect(Buffer.compare(full.data, expected.data)).toBe(0);
    const quarter = decoder.decode(bytes, { scaleDenom: 4 });
    expect(quarter).toMatchObject({ width: 75, height: 50 });
    expectCloseToBox(quarter, expected, 4);
  });

  it('grayscale: one channel per pixel, equal to sharp', async () => {
    const bytes = new Uint8Array(await pattern(300, 200).toColourspace('b-w').jpeg({ quality: 90 }).toBuffer());
    expect(decoder.readHeader(bytes)).toEqual({
      width: 300,
      height: 200,
      components: 1,
      colorSpace: 'gray',
      progressive: false,
    });
    const decoded = decoder.decode(bytes);
    expect(decoded).toMatchObject({ width: 300, height: 200, colorSpace: 'gray', channels: 1, adobe: false });
    const expected = await sharpDecode(bytes, 'b-w');
    expect(expected.channels).toBe(1);
    expect(Buffer.compare(decoded.data, expected.data)).toBe(0);
    const half = decoder.decode(bytes, { scaleDenom: 2 });
    expect(half).toMatchObject({ width: 150, height: 100, channels: 1 });
    expectCloseToBox(half, expected, 2);
  });

  it('CMYK: raw channels as stored (Adobe-inverted), matching the encoded CMYK values', async () => {
    const cmyk = pattern(96, 64).toColourspace('cmyk');
    const bytes = new Uint8Array(await cmyk.clone().jpeg({ quality: 95 }).toBuffer());
    const source = await cmyk.clone().raw().toBuffer({ resolveWithObject: true });
    expect(source.info.channels).toBe(4);
    expect(decoder.readHeader(bytes)).toEqual({
      width: 96,
      height: 64,
      components: 4,
      colorSpace: 'cmyk',
      progressive: false,
      adobeTransform: 0,
    });
    const decoded = decoder.decode(bytes);
    expect(decoded).toMatchObject({ width: 96, height: 64, colorSpace: 'cmyk', channels: 4, adobe: true });
    // libvips writes CMYK inverted, per Adobe's convention (PIL reads such files as "CMYK;I"). q95 loss: mean 0.18.
    const meanDiff =
      decoded.data.reduce((sum, v, i) => sum + Math.abs(255 - v - source.data[i]), 0) / decoded.data.length;
    expect(meanDiff).toBeLessThan(1);
  });
});

describe('arithmetic coding', () => {
  // 32×24 test pattern, `cjpeg -arithmetic -quality 90` of Debian's libjpeg-turbo-progs 1:2.1.5-2 (sharp cannot
  // write arithmetic-coded files). Expected: SHA-256 of `djpeg -dct int -scale 1/N` output of the same package.
  const ARITHMETIC_JPEG = Buffer.from(
    '/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8X' +
      'GBYUGBIUFRT/2wBDAQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/yQAR' +
      'CAAYACADASIAAhEBAxEB/8wACgAQEAUBEBEF/9oADAMBAAIRAxEAPwD/AOSUp2FCK68wAJvQINew40NDTLE0hoLn6QDBKaxqNpM0vqMcQko1' +
      'ZFfnd1FLYBjvF+fk6aCZ3nLuQKqcBezDUyo2xpHKJF6KMV2/eRss8dsM4dcCVA80Z7e1U7wO1NlFM6iPukR/rKGTF0y9rri4eyotGXvrwgrU' +
      'wACltqLQeU2R0r8+tf220EaqQO//AKpNyQ4+b/23YCUlBAHsgmk30v/Z',
    'base64',
  );

  it.each([
    [1, 'd3b7357c9140bb8fea963678a09aee48406ec0c37569de6a1ec5eb019ef193bb'],
    [2, 'f346a98d6460a2d44e14bab1be2e5678c518e3e5222dc0d79328475776fa4efa'],
  ] as const)('decodes at 1/%i as native libjpeg-turbo does', (denom, sha256) => {
    const decoded = decoder.decode(ARITHMETIC_JPEG, { scaleDenom: denom });
    expect(decoded).toMatchObject({ width: 32 / denom, height: 24 / denom, channels: 3 });
    expect(createHash('sha256').update(decoded.data).digest('hex')).toBe(sha256);
  });
});

describe('bad input', () => {
  let good: Uint8Array;
  let goodExpected: Awaited<ReturnType<typeof sharpDecode>>;
  let progressive: Uint8Array;
  beforeAll(async () => {
    good = new Uint8Array(await pattern(300, 200).jpeg({ quality: 90 }).toBuffer());
    goodExpected = await sharpDecode(good);
    progressive = new Uint8Array(await pattern(300, 200).jpeg({ quality: 90, progressive: true }).toBuffer());
  });

  /** After any failure the same decoder still decodes correctly: nothing leaks between calls. */
  function expectNextDecodeWorks() {
    const decoded = decoder.decode(good);
    expect(Buffer.compare(decoded.data, goodExpected.data)).toBe(0);
  }

  it('non-JPEG input is unsupported-format', async () => {
    const png = new Uint8Array(await pattern(16, 16).png().toBuffer());
    expectDecodeError(() => decoder.decode(png), 'unsupported-format', /^Not a JPEG file: starts with 0x89 0x50$/);
    expectDecodeError(() => decoder.readHeader(png), 'unsupported-format');
    expectDecodeError(() => decoder.decode(new TextEncoder().encode('hello world')), 'unsupported-format');
    expectDecodeError(() => decoder.decode(new Uint8Array(0)), 'unsupported-format', /Empty input/);
    expectNextDecodeWorks();
  });

  it('truncated data is corrupt-image (as PIL without LOAD_TRUNCATED_IMAGES)', () => {
    const cut = good.subarray(0, Math.floor(good.length * 0.6));
    expect(decoder.readHeader(cut)).toMatchObject({ width: 300, height: 200 });
    expectDecodeError(() => decoder.decode(cut), 'corrupt-image', /^Premature end of JPEG file$/);
    expectNextDecodeWorks();
    expectDecodeError(
      () => decoder.decode(progressive.subarray(0, Math.floor(progressive.length * 0.6))),
      'corrupt-image',
    );
    expectDecodeError(
      () => decoder.decode(progressive.subarray(0, Math.floor(progressive.length * 0.6)), { scaleDenom: 8 }),
      'corrupt-image',
    );
    expectNextDecodeWorks();
    const headerOnly = good.subarray(0, 100);
    expectDecodeError(() => decoder.readHeader(headerOnly), 'corrupt-image');
    expectNextDecodeWorks();
  });

  it('malformed headers are corrupt-image', () => {
    const sof = findSegment(good, 0xc0);
    expect(sof).toBeGreaterThan(0);
    // SOF0: FF C0, length(2), precision, height(2), width(2), ncomp, then (id, sampling, quant table) per component.
    const zeroHeight = patched(good, sof + 5, [0, 0]);
    expectDecodeError(() => decoder.decode(zeroHeight), 'corrupt-image', /Empty JPEG image/);
    const undefinedQuantTable = patched(good, sof + 10 + 2, [3]);
    expectDecodeError(
      () => decoder.decode(undefinedQuantTable),
      'corrupt-image',
      /^Quantization table 0x03 was not defined$/,
    );
    const dht = findSegment(good, 0xc4);
    // First table's 16 code-length counts, all 255: more codes than a table can hold.
    const bogusHuffman = patched(good, dht + 5, new Array(16).fill(255));
    expectDecodeError(() => decoder.decode(bogusHuffman), 'corrupt-image', /Huffman table/);
    expectNextDecodeWorks();
  });

  it('JPEG processes libjpeg cannot decode are unsupported-format', () => {
    const lossless = patched(good, findSegment(good, 0xc0) + 1, [0xc3]);
    expectDecodeError(
      () => decoder.readHeader(lossless),
      'unsupported-format',
      /^Unsupported JPEG process: SOF type 0xc3$/,
    );
    expectNextDecodeWorks();
  });

  it('corrupt entropy data is recovered with a warning, as PIL lets libjpeg do', () => {
    const sos = lastIndexOfMarker(good, 0xda);
    const middle = sos + Math.floor((good.length - sos) / 2);
    const broken = patched(good, middle, [0xff, 0xd9]);
    const decoded = decoder.decode(broken);
    expect(decoded).toMatchObject({ width: 300, height: 200, channels: 3 });
    expect(decoded.warnings).toBeGreaterThanOrEqual(1);
    expect(decoder.decode(good).warnings).toBe(0);
    // Rows before the damage decode as before.
    expect(Buffer.compare(decoded.data.subarray(0, 300 * 3 * 16), goodExpected.data.subarray(0, 300 * 3 * 16))).toBe(0);
  });

  it('a file with more than 100 scans is rejected', () => {
    // Repeating the final refinement scan is legal enough for libjpeg (a warning each time) but costs a full pass.
    const lastScan = progressive.subarray(lastIndexOfMarker(progressive, 0xda), progressive.length - 2);
    const parts = [
      progressive.subarray(0, progressive.length - 2),
      ...new Array(100).fill(lastScan),
      new Uint8Array([0xff, 0xd9]),
    ];
    const manyScans = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((offset, p) => (manyScans.set(p, offset), offset + p.length), 0);
    expectDecodeError(() => decoder.decode(manyScans), 'image-too-large', /too many scans/);
    expectNextDecodeWorks();
  });

  it('enforces the output-pixel and wasm-memory limits', async () => {
    const small = createJpegDecoder(wasm, { maxOutputPixels: 10_000 });
    expectDecodeError(() => small.decode(good), 'image-too-large', /output pixel limit/);
    expect(small.decode(good, { scaleDenom: 4 })).toMatchObject({ width: 75, height: 50 });

    // A progressive 2048×2048 4:2:0 file needs its 12.6 MB of coefficients in memory.
    const big = new Uint8Array(await pattern(2048, 2048).jpeg({ quality: 80, progressive: true }).toBuffer());
    const tight = createJpegDecoder(wasm, { maxMemoryBytes: 4 * 1024 * 1024 });
    expectDecodeError(() => tight.decode(big, { scaleDenom: 8 }), 'image-too-large');
    expect(tight.decode(good)).toMatchObject({ width: 300, height: 200 });
    const roomy = decoder.decode(big, { scaleDenom: 8 });
    expect(roomy).toMatchObject({ width: 256, height: 256 });
    expect(roomy.wasmMemoryBytes).toBeGreaterThan(12 * 1024 * 1024);
  });

  it('randomly damaged files decode or fail with a JpegDecodeError, never anything else', () => {
    // Seeded, so a failure reproduces. Baseline and progressive sources, damage biased towards the headers.
    let seed = 20240601;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const damaged = new Uint8Array(i % 2 ? progressive : good);
      for (let k = 1 + Math.floor(random() * 6); k > 0; k--) {
        const at = random() < 0.5 ? Math.floor(random() * 700) : Math.floor(random() * damaged.length);
        damaged[at] = random() < 0.3 ? 0xff : Math.floor(random() * 256);
      }
      const scaleDenom = ([1, 2, 4, 8] as const)[i % 4];
      let outcome: string;
      try {
        const decoded = decoder.decode(damaged, { scaleDenom });
        expect(decoded.data.length).toBe(decoded.width * decoded.height * decoded.channels);
        outcome = 'decoded';
      } catch (error) {
        if (!(error instanceof JpegDecodeError)) throw error;
        outcome = error.code;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    // Both kinds of outcome occur, so the damage is neither always fatal nor always harmless.
    expect(outcomes.get('decoded')).toBeGreaterThan(0);
    expect(outcomes.get('corrupt-image')).toBeGreaterThan(0);
    expectNextDecodeWorks();
  });

  it('rejects invalid options', () => {
    expect(() => decoder.decode(good, { scaleDenom: 3 as 2 })).toThrow(RangeError);
    expect(() => createJpegDecoder(wasm, { maxMemoryBytes: 1000 })).toThrow(RangeError);
    expect(() => createJpegDecoder(wasm, { maxOutputPixels: 0 })).toThrow(RangeError);
  });
});

describe('memory reuse', () => {
  it('repeated decodes (good and failing) reuse one memory that does not grow', async () => {
    const decoder = createJpegDecoder(await loadJpegWasmModule());
    const file = new Uint8Array(readFileSync(phonePhoto));
    const first = decoder.decode(file, { scaleDenom: 8 });
    const sizes: number[] = [];
    for (let i = 0; i < 5; i++) {
      expect(() => decoder.decode(file.subarray(0, file.length / 2), { scaleDenom: 8 })).toThrow(JpegDecodeError);
      const again = decoder.decode(file, { scaleDenom: 8 });
      expect(again.data).toEqual(first.data);
      sizes.push(again.wasmMemoryBytes);
    }
    expect(new Set(sizes)).toEqual(new Set([first.wasmMemoryBytes]));
  });
});
