/**
 * JPEG specifics of the image modules with the libjpeg-turbo wasm decoder (wasm/jpeg): which DCT scale a decode
 * uses, CMYK converted as PIL converts it, arithmetic coding, golden parity when the preprocessing's short side is
 * passed (ImageNet-size files still decode at full size), and how the decoder's limits surface as API errors.
 */
import { problemStatus } from '../../../worker/api/problems.js';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_PREPROCESSING } from '../../../worker/core/manifest/manifest.js';
import { createImageDecoder, probeImage, type ImageDecoder } from '../../../worker/core/image/decode.js';
import { cmykToRgb, jpegScaleDenom } from '../../../worker/core/image/jpeg.js';
import { loadImageWasmModules } from '../../../worker/runtimes/node/image-wasm.js';
import { inputElements, preprocess } from '../../../worker/core/preprocess/transform.js';
import { ARITHMETIC_JPEGS } from '../../helpers/arithmetic-jpegs.js';
import manifest from '../../fixtures/images/manifest.json';
import { decodeError } from '../../helpers/image-error.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/images');
const SHARED = path.resolve(import.meta.dirname, '../../../../shared');
const read = (file: string) => new Uint8Array(readFileSync(path.join(FIXTURES, file)));
const expectedOf = (file: string) => read(`expected/${manifest.fixtures.find((f) => f.file === file)!.expected}`);
const LIMIT = { maxPixels: 50_000_000 };
const SHORT_SIDE = IMAGENET_PREPROCESSING.resizeShortSide;

let decoder: ImageDecoder;
beforeAll(async () => {
  decoder = createImageDecoder(await loadImageWasmModules());
});

function meanAbsoluteDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

describe('DCT scale: the largest 1/N whose short side stays ≥ 2 × the preprocessing short side', () => {
  it.each([
    // ImageNet-size images: full size.
    [500, 375, 256, 1],
    [334, 500, 256, 1],
    [1023, 1023, 256, 2], // libjpeg rounds up: 1/2 gives 512
    [1022, 1022, 256, 1], // 1/2 would give 511 < 512
    [2560, 1600, 256, 2], // 1/4 would give 400
    [4032, 3024, 256, 4], // 1/4: 1008×756; 1/8 would give 378
    [5120, 2880, 256, 4], // 1/4: 1280×720
    [4096, 4096, 256, 8], // 1/8: exactly 512
    [4096, 4096, 300, 4],
    [4032, 3024, undefined, 1], // no short side given: always full size
  ])('%i×%i for a resize to %s: 1/%i', (width, height, shortSide, denom) => {
    expect(jpegScaleDenom(width, height, shortSide)).toBe(denom);
  });
});

describe('CMYK: converted to RGB as PIL does (inverted as "CMYK;I", then Convert.c cmyk2rgb)', () => {
  /** Pillow's cmyk2rgb on PIL's CMYK values: out = nk − MULDIV255(c, nk) with nk = 255 − k. */
  function pilCmykToRgb(cmyk: Uint8Array): Uint8Array {
    const muldiv255 = (a: number, b: number) => {
      const tmp = a * b + 128;
      return ((tmp >> 8) + tmp) >> 8;
    };
    const rgb = new Uint8Array((cmyk.length / 4) * 3);
    for (let p = 0; p < cmyk.length / 4; p++) {
      const nk = 255 - cmyk[p * 4 + 3];
      for (let c = 0; c < 3; c++) rgb[p * 3 + c] = Math.max(0, Math.min(255, nk - muldiv255(cmyk[p * 4 + c], nk)));
    }
    return rgb;
  }

  it("the CMYK fixture decodes to PIL's conversion of its CMYK samples (as sharp/libvips decodes them)", async () => {
    const bytes = read('jpeg-cmyk.jpg');
    expect(probeImage(bytes)).toEqual({
      format: 'jpeg',
      width: manifest.width,
      height: manifest.height,
      orientation: 1,
    });
    // libvips reads Adobe CMYK inverted, as PIL's "CMYK;I" does; pipelineColourspace keeps it from converting to sRGB.
    const { data, info } = await sharp(bytes)
      .pipelineColourspace('cmyk')
      .toColourspace('cmyk')
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([manifest.width, manifest.height, 4]);
    const image = await decoder.decodeImage(bytes, LIMIT);
    expect([image.width, image.height]).toEqual([manifest.width, manifest.height]);
    expect(Buffer.from(image.data).equals(Buffer.from(pilCmykToRgb(new Uint8Array(data))))).toBe(true);
  });

  it('stored (inverted) samples: white, black, pure cyan, and a worked MULDIV255 case', () => {
    // Stored as Adobe writes them, i.e. 255 − CMYK. PIL CMYK (0,0,0,0) is white, k = 255 black, c = 255 cyan.
    // (128, 0, 0, 64): nk = 191, MULDIV255(128, 191) = ((24576 >> 8) + 24576) >> 8 = 96, red = 191 − 96 = 95.
    const stored = Uint8Array.from([
      ...[255, 255, 255, 255],
      ...[255, 255, 255, 0],
      ...[0, 255, 255, 255],
      ...[255 - 128, 255, 255, 255 - 64],
    ]);
    expect(Array.from(cmykToRgb(stored, 4))).toEqual([
      ...[255, 255, 255],
      ...[0, 0, 0],
      ...[0, 255, 255],
      ...[95, 191, 191],
    ]);
  });
});

describe('arithmetic coding', () => {
  it.each(ARITHMETIC_JPEGS)('$variant decodes to exactly the pixels of $source', async ({ source, bytes }) => {
    const fixture = manifest.fixtures.find((f) => f.file === source)!;
    expect(probeImage(bytes)).toEqual({
      format: 'jpeg',
      width: fixture.width,
      height: fixture.height,
      orientation: fixture.orientation ?? 1,
    });
    const image = await decoder.decodeImage(bytes, LIMIT);
    expect([image.width, image.height]).toEqual([fixture.width, fixture.height]);
    expect(Buffer.from(image.data).equals(Buffer.from(expectedOf(source)))).toBe(true);
  });
});

describe('golden parity when decoding for the preprocessing', () => {
  const golden = JSON.parse(readFileSync(path.join(SHARED, 'fixtures/golden/m0.json'), 'utf8')) as { images: string[] };
  const goldenInput = (() => {
    const bytes = readFileSync(path.join(SHARED, 'fixtures/golden/m0.input.f32'));
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  })();
  const elements = inputElements(IMAGENET_PREPROCESSING);

  it.each(golden.images.map((name, index) => [name, index] as const))(
    '%s: full size, bit-exact input tensor',
    async (name, index) => {
      const bytes = new Uint8Array(readFileSync(path.join(SHARED, 'images/imagenet-sample', name)));
      const image = await decoder.decodeImage(bytes, { ...LIMIT, minShortSide: SHORT_SIDE });
      const { width, height } = probeImage(bytes);
      expect([image.width, image.height]).toEqual([width, height]); // no DCT scaling for an ImageNet-size file
      const tensor = preprocess(image, IMAGENET_PREPROCESSING);
      const expected = goldenInput.subarray(index * elements, (index + 1) * elements);
      let max = 0;
      for (let i = 0; i < elements; i++) max = Math.max(max, Math.abs(tensor[i] - expected[i]));
      expect(max).toBe(0);
    },
  );

  it('ImageNet files decode at full size unless twice the resize fits in a reduced decode (1 of 68 here)', async () => {
    const scaled: string[] = [];
    for (const dir of ['images/imagenet-sample', 'images/imagenet-val']) {
      const files = readdirSync(path.join(SHARED, dir)).filter((f) => /\.jpe?g$/i.test(f));
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        const { width, height } = probeImage(new Uint8Array(readFileSync(path.join(SHARED, dir, file))));
        const denom = jpegScaleDenom(width, height, SHORT_SIDE);
        expect(
          denom === 1 || Math.min(width, height) >= 4 * SHORT_SIDE,
          `${file} ${width}×${height} at 1/${denom}`,
        ).toBe(true);
        if (denom > 1) scaled.push(file);
      }
    }
    expect(scaled).toEqual(['n03109150_corkscrew.JPEG']); // 1200×1600
  });

  it('the reduced decode of that large ImageNet file gives the same model input within the parity bar', async () => {
    const bytes = new Uint8Array(readFileSync(path.join(SHARED, 'images/imagenet-sample/n03109150_corkscrew.JPEG')));
    const reduced = await decoder.decodeImage(bytes, { ...LIMIT, minShortSide: SHORT_SIDE });
    expect([reduced.width, reduced.height]).toEqual([600, 800]);
    const full = await decoder.decodeImage(bytes, LIMIT);
    expect(
      meanAbsoluteDifference(preprocess(reduced, IMAGENET_PREPROCESSING), preprocess(full, IMAGENET_PREPROCESSING)),
    ).toBeLessThanOrEqual(0.01);
  });
});

describe("the decoder's limits as API errors", () => {
  function lastScanStart(bytes: Uint8Array): number {
    for (let i = bytes.length - 2; i >= 0; i--) if (bytes[i] === 0xff && bytes[i + 1] === 0xda) return i;
    throw new Error('no scan');
  }

  it('more than 100 scans (no encoder writes that; it makes the decoder loop): corrupt-image 422', async () => {
    const progressive = read('jpeg-progressive.jpg');
    const withoutEoi = progressive.subarray(0, progressive.length - 2);
    const lastScan = progressive.subarray(lastScanStart(progressive), progressive.length - 2);
    const parts = [withoutEoi, ...new Array<Uint8Array>(100).fill(lastScan), Uint8Array.from([0xff, 0xd9])];
    const manyScans = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((offset, p) => (manyScans.set(p, offset), offset + p.length), 0);
    const error = await decodeError(decoder.decodeImage(manyScans, LIMIT));
    expect([error.code, problemStatus(error.code)]).toEqual(['corrupt-image', 422]);
    expect(error.message).toMatch(/too many scans/);
  });

  it("a progressive file whose coefficients exceed the decoder's 64 MiB: too-many-pixels 413", async () => {
    // 5000×5000 progressive 4:2:0: libjpeg must hold all coefficients, 25 M × 1.5 × 2 bytes = 75 MB. Small on disk.
    const big = new Uint8Array(
      await sharp({ create: { width: 5000, height: 5000, channels: 3, background: { r: 90, g: 140, b: 200 } } })
        .jpeg({ progressive: true, quality: 50 })
        .toBuffer(),
    );
    expect(big.length).toBeLessThan(1_000_000);
    const error = await decodeError(decoder.decodeImage(big, LIMIT));
    expect([error.code, problemStatus(error.code)]).toEqual(['too-many-pixels', 413]);
    // DCT scaling does not help here: the coefficient buffer is per block, whatever the output scale.
    const reduced = await decodeError(decoder.decodeImage(big, { ...LIMIT, minShortSide: SHORT_SIDE }));
    expect(reduced.code).toBe('too-many-pixels');
    // The decoder is not left broken.
    expect(
      Buffer.from((await decoder.decodeImage(read('jpeg-baseline.jpg'), LIMIT)).data).equals(
        Buffer.from(expectedOf('jpeg-baseline.jpg')),
      ),
    ).toBe(true);
  });
});
