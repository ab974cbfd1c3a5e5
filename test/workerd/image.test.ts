/// <reference types="vite/types/importMeta.d.ts" />
/**
 * The image modules inside workerd, with the decoders' .wasm files imported as workerd hands them over (precompiled
 * WebAssembly.Module): every fixture decodes to its expected bytes or fails with its code, and the golden
 * preprocessing parity holds here too.
 *
 * Binary files reach the test bundle through Vite: `import.meta.glob(..., { query: '?url&inline' })` turns each into a
 * base64 data URL string at transform time, so no binding or wrangler rule is needed.
 */
import jpegWasm from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm';
import webpWasm from '@jsquash/webp/codec/dec/webp_dec.wasm';
import { describe, expect, it } from 'vitest';
import { IMAGENET_PREPROCESSING } from '../../models/manifest.js';
import { createImageDecoder, probeImage } from '../../worker/image/decode.js';
import { ImageError } from '../../worker/image/errors.js';
import { inputElements, preprocess } from '../../worker/preprocess/transform.js';
import goldenMeta from '../../../shared/fixtures/golden/m0.json';
import manifest from '../fixtures/images/manifest.json';

const fixtureFiles = import.meta.glob<string>(['../fixtures/images/*.*', '../fixtures/images/expected/*.rgb', '!**/*.json'], {
  query: '?url&inline',
  import: 'default',
  eager: true,
});
const goldenFiles = import.meta.glob<string>(['../../../shared/fixtures/golden/m0.input.f32', '../../../shared/images/imagenet-sample/n01*.JPEG'], {
  query: '?url&inline',
  import: 'default',
  eager: true,
});

function fromDataUrl(url: string | undefined, name: string): Uint8Array {
  if (url === undefined) throw new Error(`${name} is not in the test bundle`);
  const binary = atob(url.slice(url.indexOf(',') + 1));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

const fixture = (file: string) => fromDataUrl(fixtureFiles[`../fixtures/images/${file}`], file);
const decoder = createImageDecoder({ jpeg: jpegWasm, webp: webpWasm });

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

  it.each(manifest.fixtures.filter((f) => f.error !== undefined))('$file → $error', async (f) => {
    const error = await decoder.decodeImage(fixture(f.file), { maxPixels: manifest.hugeLimit }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageError);
    expect((error as ImageError).code).toBe(f.error);
  });
});

describe('golden preprocessing parity', () => {
  const elements = inputElements(IMAGENET_PREPROCESSING);
  const goldenBytes = fromDataUrl(goldenFiles['../../../shared/fixtures/golden/m0.input.f32'], 'm0.input.f32');
  const golden = new Float32Array(goldenBytes.buffer, goldenBytes.byteOffset, goldenBytes.byteLength / 4);

  it.each(goldenMeta.images.map((name, index) => [name, index] as const))('%s', async (name, index) => {
    const bytes = fromDataUrl(goldenFiles[`../../../shared/images/imagenet-sample/${name}`], name);
    const tensor = preprocess(await decoder.decodeImage(bytes, { maxPixels: 50_000_000 }), IMAGENET_PREPROCESSING);
    const expected = golden.subarray(index * elements, (index + 1) * elements);
    let max = 0;
    for (let i = 0; i < elements; i++) max = Math.max(max, Math.abs(tensor[i] - expected[i]));
    expect(max).toBe(0);
  });
});
