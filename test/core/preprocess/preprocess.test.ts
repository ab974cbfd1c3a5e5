/**
 * The evaluation transform against what the official PyTorch pipeline computed (golden input tensors in
 * ../shared/fixtures/golden), plus the properties the exact PIL resize must keep: a computed region equals the same
 * region of the full resize, constant images stay constant, torchvision's sizes and (half-to-even) crop offsets.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_PREPROCESSING, type Preprocessing } from '../../../worker/core/manifest/manifest.js';
import { createImageDecoder, type ImageDecoder } from '../../../worker/core/image/decode.js';
import type { RgbImage } from '../../../worker/core/image/types.js';
import { loadImageWasmModules } from '../../../worker/runtimes/node/image-wasm.js';
import { resizeBicubic } from '../../../worker/core/preprocess/resize.js';
import {
  centerCropOffset,
  inputElements,
  preprocess,
  preprocessInto,
  resizedSize,
} from '../../../worker/core/preprocess/transform.js';

const SHARED = path.resolve(import.meta.dirname, '../../../../shared');
const golden = JSON.parse(readFileSync(path.join(SHARED, 'fixtures/golden/m0.json'), 'utf8')) as {
  images: string[];
  input_shape: number[];
};
const goldenInput = (() => {
  const bytes = readFileSync(path.join(SHARED, 'fixtures/golden/m0.input.f32'));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
})();
const ELEMENTS = inputElements(IMAGENET_PREPROCESSING);

let decoder: ImageDecoder;
beforeAll(async () => {
  decoder = createImageDecoder(await loadImageWasmModules());
});

function testImage(width: number, height: number, seed = 1): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761 + seed * 97) >>> 24;
  return { width, height, data };
}

describe('golden parity with the official PyTorch preprocessing', () => {
  it('the tensor shape is [8, 3, 224, 224]', () => {
    expect(golden.input_shape).toEqual([8, 3, 224, 224]);
    expect(goldenInput.length).toBe(8 * ELEMENTS);
  });

  it.each(golden.images.map((name, index) => [name, index] as const))('%s', async (name, index) => {
    const bytes = new Uint8Array(readFileSync(path.join(SHARED, 'images/imagenet-sample', name)));
    const image = await decoder.decodeImage(bytes, { maxPixels: 50_000_000 });
    const tensor = preprocess(image, IMAGENET_PREPROCESSING);
    const expected = goldenInput.subarray(index * ELEMENTS, (index + 1) * ELEMENTS);
    let max = 0;
    let sum = 0;
    for (let i = 0; i < ELEMENTS; i++) {
      const difference = Math.abs(tensor[i] - expected[i]);
      max = Math.max(max, difference);
      sum += difference;
    }
    // The bar is a mean |Δ| ≤ 0.01; with PIL's exact resize and the same libjpeg the result is identical.
    expect(sum / ELEMENTS).toBeLessThanOrEqual(0.01);
    expect(max).toBe(0);
  });
});

describe('torchvision sizes and offsets', () => {
  it.each([
    [500, 375, 341, 256],
    [334, 500, 256, 383],
    [256, 256, 256, 256],
    [1000, 10, 25600, 256],
    [3024, 4032, 256, 341],
  ])('Resize(256) of %i×%i is %i×%i', (width, height, resizedWidth, resizedHeight) => {
    expect(resizedSize(width, height, 256)).toEqual({ width: resizedWidth, height: resizedHeight });
  });

  it.each([
    [256, 224, 16],
    [341, 224, 58], // (341 - 224) / 2 = 58.5 → 58: Python rounds halves to even
    [383, 224, 80], // 79.5 → 80
    [225, 224, 0], // 0.5 → 0
    [227, 224, 2], // 1.5 → 2
    [224, 224, 0],
  ])('CenterCrop offset in %i for %i is %i', (size, crop, offset) => {
    expect(centerCropOffset(size, crop)).toBe(offset);
  });
});

describe('resizeBicubic', () => {
  it.each([
    ['downscale both axes', testImage(97, 61), 40, 23],
    ['upscale both axes', testImage(13, 9), 40, 31],
    ['downscale width only', testImage(50, 20), 21, 20],
    ['upscale height only', testImage(20, 7), 20, 30],
    ['mixed', testImage(30, 9), 17, 25],
  ])('%s: a region equals the same region of the full resize', (_, image, width, height) => {
    const full = resizeBicubic(image, width, height, { x: 0, y: 0, width, height });
    expect(full.data.length).toBe(width * height * 3);
    const region = { x: 3, y: 2, width: width - 7, height: height - 5 };
    const part = resizeBicubic(image, width, height, region);
    const expected = new Uint8Array(region.width * region.height * 3);
    for (let y = 0; y < region.height; y++) {
      const start = ((region.y + y) * width + region.x) * 3;
      expected.set(full.data.subarray(start, start + region.width * 3), y * region.width * 3);
    }
    expect(part.data).toEqual(expected);
  });

  it('the same size is the identity', () => {
    const image = testImage(31, 17);
    expect(resizeBicubic(image, 31, 17, { x: 0, y: 0, width: 31, height: 17 }).data).toEqual(image.data);
  });

  it.each([
    [40, 30, 7, 5],
    [7, 5, 40, 30],
    [640, 480, 256, 192],
  ])('a constant image stays constant (%i×%i → %i×%i)', (fromWidth, fromHeight, toWidth, toHeight) => {
    for (const value of [0, 1, 128, 254, 255]) {
      const image = {
        width: fromWidth,
        height: fromHeight,
        data: new Uint8Array(fromWidth * fromHeight * 3).fill(value),
      };
      const resized = resizeBicubic(image, toWidth, toHeight, { x: 0, y: 0, width: toWidth, height: toHeight });
      expect(
        resized.data.every((v) => v === value),
        `value ${value}`,
      ).toBe(true);
    }
  });

  it('refuses a region outside the output', () => {
    expect(() => resizeBicubic(testImage(10, 10), 5, 5, { x: 1, y: 0, width: 5, height: 5 })).toThrow(RangeError);
  });
});

describe('preprocessInto', () => {
  it('writes one image into its row of a batch tensor and nothing else', () => {
    const image = testImage(300, 260);
    const single = preprocess(image, IMAGENET_PREPROCESSING);
    const batch = new Float32Array(3 * ELEMENTS).fill(-7);
    preprocessInto(image, IMAGENET_PREPROCESSING, batch, ELEMENTS);
    // Compared element by element: toEqual on 150k-element arrays is very slow.
    expect(batch.subarray(ELEMENTS, 2 * ELEMENTS).findIndex((v, i) => v !== single[i])).toBe(-1);
    expect(batch.subarray(0, ELEMENTS).every((v) => v === -7)).toBe(true);
    expect(batch.subarray(2 * ELEMENTS).every((v) => v === -7)).toBe(true);
  });

  it('normalizes with float32 steps: ToTensor (/255) then (x - mean) / std', () => {
    // A constant image survives the resize unchanged, so every output is the normalization of that value.
    const value = 200;
    const image = { width: 300, height: 280, data: new Uint8Array(300 * 280 * 3).fill(value) };
    const tensor = preprocess(image, IMAGENET_PREPROCESSING);
    const plane = 224 * 224;
    IMAGENET_PREPROCESSING.mean.forEach((mean, c) => {
      const x = Math.fround(value / 255);
      const expected = Math.fround(Math.fround(x - Math.fround(mean)) / Math.fround(IMAGENET_PREPROCESSING.std[c]));
      expect(tensor[c * plane]).toBe(expected);
      expect(tensor[c * plane + plane - 1]).toBe(expected);
    });
  });

  it('takes the sizes from the preprocessing parameters', () => {
    const small: Preprocessing = { ...IMAGENET_PREPROCESSING, resizeShortSide: 36, centerCrop: 32 };
    expect(preprocess(testImage(80, 50), small).length).toBe(3 * 32 * 32);
  });

  it('refuses parameters it cannot honour and a tensor without room', () => {
    const image = testImage(50, 50);
    expect(() => preprocess(image, { ...IMAGENET_PREPROCESSING, centerCrop: 300 })).toThrow(/centerCrop/);
    expect(() => preprocessInto(image, IMAGENET_PREPROCESSING, new Float32Array(ELEMENTS), 1)).toThrow(RangeError);
  });
});
