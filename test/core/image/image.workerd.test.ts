/// <reference types="vite/types/importMeta.d.ts" />
/**
 * The image modules inside workerd, with the decoders' .wasm files imported as workerd hands them over (precompiled
 * WebAssembly.Module): every fixture decodes to its expected bytes or fails with its code, arithmetic-coded JPEGs
 * decode, the golden preprocessing parity holds here too (decoding for the preprocessing, which keeps ImageNet-size
 * files at full size), and the 12 MP phone photo decodes DCT-scaled and upright.
 *
 * Binary files reach the test bundle through Vite: `import.meta.glob(..., { query: '?url&inline' })` turns each into a
 * base64 data URL string at transform time, so no binding or wrangler rule is needed.
 */
import webpWasm from '@jsquash/webp/codec/dec/webp_dec.wasm';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import jpegWasm from '../../../wasm/jpeg/jpeg.wasm';
import { IMAGENET_PREPROCESSING } from '../../../worker/core/manifest/manifest.js';
import { createImageDecoder, probeImage } from '../../../worker/core/image/decode.js';
import { ImageError } from '../../../worker/core/image/errors.js';
import { inputElements, preprocess } from '../../../worker/core/preprocess/transform.js';
import goldenMeta from '../../../../shared/fixtures/golden/m0.json';
import manifest from '../../fixtures/images/manifest.json';
import { ARITHMETIC_JPEGS } from '../../helpers/arithmetic-jpegs.js';

const fixtureFiles = import.meta.glob<string>(
  ['../../fixtures/images/*.*', '../../fixtures/images/expected/*.rgb', '!**/*.json'],
  {
    query: '?url&inline',
    import: 'default',
    eager: true,
  },
);
const goldenFiles = import.meta.glob<string>(
  ['../../../../shared/fixtures/golden/m0.input.f32', '../../../../shared/images/imagenet-sample/n01*.JPEG'],
  {
    query: '?url&inline',
    import: 'default',
    eager: true,
  },
);

function fromDataUrl(url: string | undefined, name: string): Uint8Array {
  if (url === undefined) throw new Error(`${name} is not in the test bundle`);
  const binary = atob(url.slice(url.indexOf(',') + 1));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

const fixture = (file: string) => fromDataUrl(fixtureFiles[`../../fixtures/images/${file}`], file);
const expectedOf = (file: string) => fixture(`expected/${manifest.fixtures.find((f) => f.file === file)!.expected}`);
const decoder = createImageDecoder({ jpeg: jpegWasm, webp: webpWasm });
const FOR_MODEL = { maxPixels: 50_000_000, minShortSide: IMAGENET_PREPROCESSING.resizeShortSide };

/**
 * Manifest entries written for the previous JPEG decoder, which refused CMYK and arithmetic coding: jpeg-cmyk.jpg
 * now decodes (its conversion is checked against sharp in test/core/image/jpeg.test.ts), and jpeg-arithmetic.jpg, a
 * frame header with no scan, is now read as truncated.
 */
const NOW_DECODED = new Set(['jpeg-cmyk.jpg']);
const NOW_FAILING_AS: Record<string, string> = { 'jpeg-arithmetic.jpg': 'corrupt-image' };

it('the imported .wasm files arrive as compiled modules', () => {
  expect(jpegWasm).toBeInstanceOf(WebAssembly.Module);
  expect(webpWasm).toBeInstanceOf(WebAssembly.Module);
});

describe('fixtures', () => {
  it.each(manifest.fixtures.filter((f) => f.expected !== undefined))('$file', async (f) => {
    const bytes = fixture(f.file);
    expect(probeImage(bytes)).toMatchObject({ format: f.format, width: f.width, height: f.height });
    const image = await decoder.decodeImage(bytes, { maxPixels: manifest.hugeLimit });
    const expected = fixture(`expected/${f.expected}`);
    expect(image.data.length).toBe(expected.length);
    let max = 0;
    for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(image.data[i] - expected[i]));
    expect(max).toBeLessThanOrEqual(f.tolerance!);
  });

  const failing = manifest.fixtures
    .filter((f) => f.error !== undefined && !NOW_DECODED.has(f.file))
    .map((f) => ({ ...f, error: NOW_FAILING_AS[f.file] ?? f.error }));
  it.each(failing)('$file → $error', async (f) => {
    const error = await decoder
      .decodeImage(fixture(f.file), { maxPixels: manifest.hugeLimit })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageError);
    expect((error as ImageError).code).toBe(f.error);
  });

  it('jpeg-cmyk.jpg decodes to RGB', async () => {
    const image = await decoder.decodeImage(fixture('jpeg-cmyk.jpg'), { maxPixels: manifest.hugeLimit });
    expect([image.width, image.height, image.data.length]).toEqual([
      manifest.width,
      manifest.height,
      manifest.width * manifest.height * 3,
    ]);
  });

  it.each(ARITHMETIC_JPEGS)('$variant decodes to exactly the pixels of $source', async ({ source, bytes }) => {
    const image = await decoder.decodeImage(bytes, { maxPixels: manifest.hugeLimit });
    expect(image.data).toEqual(expectedOf(source));
  });
});

describe('the 12 MP phone photo, decoded for the preprocessing', () => {
  // SHA-256 of native libjpeg-turbo 2.1.5's `djpeg -dct int -scale 1/4` output turned 90° clockwise (EXIF 6) with numpy.
  const UPRIGHT_QUARTER_SHA256 = 'cfff8da31b478de61ca02522a120eccaebee08af12fcdaabc22a35340d4b964d';

  it('comes out at 1/4 and upright, exactly as native libjpeg-turbo decodes it at that scale', async () => {
    const response = await env.FIXTURES.fetch('http://fixtures/shared/images/photos/phone-4032x3024-exif6.jpg');
    const photo = new Uint8Array(await response.arrayBuffer());
    expect(photo.length).toBeGreaterThan(1_000_000);
    const image = await decoder.decodeImage(photo, FOR_MODEL);
    expect([image.width, image.height]).toEqual([756, 1008]);
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', image.data));
    expect(Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')).toBe(UPRIGHT_QUARTER_SHA256);
  });
});

describe('golden preprocessing parity', () => {
  const elements = inputElements(IMAGENET_PREPROCESSING);
  const goldenBytes = fromDataUrl(goldenFiles['../../../../shared/fixtures/golden/m0.input.f32'], 'm0.input.f32');
  const golden = new Float32Array(goldenBytes.buffer, goldenBytes.byteOffset, goldenBytes.byteLength / 4);

  it.each(goldenMeta.images.map((name, index) => [name, index] as const))('%s', async (name, index) => {
    const bytes = fromDataUrl(goldenFiles[`../../../../shared/images/imagenet-sample/${name}`], name);
    const image = await decoder.decodeImage(bytes, FOR_MODEL);
    expect([image.width, image.height]).toMatchObject([probeImage(bytes).width, probeImage(bytes).height]); // full size
    const tensor = preprocess(image, IMAGENET_PREPROCESSING);
    const expected = golden.subarray(index * elements, (index + 1) * elements);
    let max = 0;
    for (let i = 0; i < elements; i++) max = Math.max(max, Math.abs(tensor[i] - expected[i]));
    expect(max).toBe(0);
  });
});
