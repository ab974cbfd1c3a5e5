/**
 * The Node build's native decoder and preprocessing (worker/runtimes/node/jpeg-addon) against the wasm path they
 * replace: the same bytes from libjpeg on every JPEG in ../shared/images and the fixtures at every DCT scale, the
 * same upright images, the same model input to the bit (and the golden tensors the official PyTorch code computed),
 * and the same error codes for broken, truncated and damaged files.
 *
 * The add-on is built here when it is not yet (`npm run build:native` does the same); on a machine without a C
 * compiler, Node's headers or libjpeg-turbo's headers it cannot be, and only the build's own message is checked.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildNative } from '../../../scripts/build-native.js';
import { createImageDecoder } from '../../../worker/core/image/decode.js';
import { ImageError } from '../../../worker/core/image/errors.js';
import { createJpegCodec, type JpegCodec } from '../../../worker/core/image/jpeg.js';
import type { RgbImage } from '../../../worker/core/image/types.js';
import { IMAGENET_PREPROCESSING, type Preprocessing } from '../../../worker/core/manifest/manifest.js';
import { createImageSupport } from '../../../worker/core/model-input/image-input.js';
import { inputElements, preprocessInto } from '../../../worker/core/preprocess/transform.js';
import { loadImageWasmModules } from '../../../worker/runtimes/node/image-wasm.js';
import {
  ADDON_PATH,
  loadJpegAddon,
  nativeJpegCodec,
  nativePreprocess,
} from '../../../worker/runtimes/node/jpeg-addon/index.js';
import { readGolden, repoRoot, sharedDir } from '../../helpers/golden.js';
import { seededRandom } from '../../helpers/random.js';

const built = existsSync(ADDON_PATH) ? undefined : buildNative();
const load = loadJpegAddon();

const FIXTURES = path.join(repoRoot, 'test/fixtures/images');
const JPEG_DIRS = ['images/imagenet-sample', 'images/imagenet-val', 'images/photos'].map((d) =>
  path.join(sharedDir, d),
);
const isJpeg = (file: string) => /\.jpe?g$/i.test(file);
const files = (dir: string) =>
  readdirSync(dir)
    .filter(isJpeg)
    .sort()
    .map((file) => path.join(dir, file));
const SHARED_JPEGS = JPEG_DIRS.flatMap(files);
const FIXTURE_JPEGS = files(FIXTURES);
const name = (file: string) => path.relative(sharedDir, file).replace(/^\.\.\//, '');
const read = (file: string) => new Uint8Array(readFileSync(file));

const wasmModules = await loadImageWasmModules();
const wasmJpeg = createJpegCodec(wasmModules.jpeg);

/** What a decode gives: the pixels, or the refusal's code. */
async function outcome(codec: JpegCodec, bytes: Uint8Array, scaleDenom: 1 | 2 | 4 | 8 = 1) {
  try {
    const { width, height, channels, data } = await codec.decode(bytes, { scaleDenom });
    return { width, height, channels, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
  } catch (error) {
    expect(error, String(error)).toBeInstanceOf(ImageError);
    return { error: (error as ImageError).code };
  }
}

/** Float32 tensors equal bit for bit. */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return (
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

describe('building the add-on', () => {
  it('builds, or says which tool is missing', () => {
    if (built && !built.ok) expect(built.reason).toMatch(/C compiler|Node headers|libjpeg/);
    if (load.ok) expect(load.addon.libjpegTurboVersion).toBeGreaterThan(0);
    else expect(load.reason).toMatch(/not built|does not load/);
  });
});

describe.skipIf(!load.ok)('native JPEG decoding equals the wasm decoder (= PIL)', () => {
  const addon = load.ok ? load.addon : (undefined as never);
  const native = nativeJpegCodec(addon);

  it('has the shared images and fixtures to check', () => {
    expect(SHARED_JPEGS.length).toBeGreaterThanOrEqual(68);
    expect(FIXTURE_JPEGS.length).toBeGreaterThan(10);
  });

  it.each([...SHARED_JPEGS, ...FIXTURE_JPEGS].map((file) => [name(file), file]))(
    '%s: the same bytes (or refusal) at 1/1, 1/2, 1/4 and 1/8',
    async (_, file) => {
      const bytes = read(file);
      for (const scale of [1, 2, 4, 8] as const) {
        expect(await outcome(native, bytes, scale), `1/${scale}`).toEqual(await outcome(wasmJpeg, bytes, scale));
      }
    },
  );

  it('upright images through decodeImage are the same, EXIF orientations included', async () => {
    const wasm = createImageDecoder(wasmModules);
    const viaNative = createImageDecoder(wasmModules, { jpeg: native });
    for (const file of [
      ...FIXTURE_JPEGS.filter((f) => /exif|cmyk|gray|progressive|444/.test(f)),
      ...files(JPEG_DIRS[2]),
    ]) {
      const bytes = read(file);
      const options = { maxPixels: 50_000_000, minShortSide: 256 };
      const [a, b] = [await wasm.decodeImage(bytes, options), await viaNative.decodeImage(bytes, options)];
      expect([b.width, b.height], name(file)).toEqual([a.width, a.height]);
      expect(Buffer.compare(Buffer.from(a.data), Buffer.from(b.data)), name(file)).toBe(0);
    }
  });

  it('broken, truncated and damaged files get the same error codes', async () => {
    const random = seededRandom(22);
    const cases: [string, Uint8Array][] = [];
    for (const file of [...SHARED_JPEGS.slice(0, 12), ...FIXTURE_JPEGS]) {
      const bytes = read(file);
      for (const cut of [2, 20, 200, Math.floor(bytes.length / 2), bytes.length - 2])
        cases.push([`${name(file)} cut at ${cut}`, bytes.subarray(0, cut)]);
      for (let n = 0; n < 4; n++) {
        const damaged = bytes.slice();
        for (let k = 0; k < 8; k++)
          damaged[Math.floor(random.uniform() * damaged.length)] = Math.floor(random.uniform() * 256);
        cases.push([`${name(file)} damaged #${n}`, damaged]);
      }
    }
    cases.push(['empty', new Uint8Array(0)], ['not a JPEG', new TextEncoder().encode('hello')]);
    for (const [label, bytes] of cases) {
      expect(await outcome(native, bytes), label).toEqual(await outcome(wasmJpeg, bytes));
    }
  });

  it('the output pixel cap refuses before decoding, as too-many-pixels', async () => {
    const bytes = read(SHARED_JPEGS[0]);
    for (const codec of [native, wasmJpeg]) {
      await expect(codec.decode(bytes, { maxOutputPixels: 100 })).rejects.toMatchObject({ code: 'too-many-pixels' });
    }
  });
});

describe.skipIf(!load.ok)('native preprocessing equals preprocessInto to the bit', () => {
  const addon = load.ok ? load.addon : (undefined as never);
  const preprocess = nativePreprocess(addon);
  const decoder = createImageDecoder(wasmModules);
  const PARAMS: Preprocessing[] = [
    IMAGENET_PREPROCESSING,
    { ...IMAGENET_PREPROCESSING, resizeShortSide: 224, centerCrop: 224 },
    { ...IMAGENET_PREPROCESSING, resizeShortSide: 160, centerCrop: 128, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  ];

  function compare(image: RgbImage, params: Preprocessing, label: string) {
    const elements = inputElements(params);
    // At an offset inside a larger tensor, as in a batch.
    const expected = new Float32Array(elements * 2 + 5);
    const actual = new Float32Array(elements * 2 + 5);
    preprocessInto(image, params, expected, elements + 5);
    preprocess(image, params, actual, elements + 5);
    expect(sameBits(actual, expected), label).toBe(true);
  }

  it.each(SHARED_JPEGS.map((file) => [name(file), file]))('%s', async (_, file) => {
    const image = await decoder.decodeImage(read(file), { maxPixels: 50_000_000, minShortSide: 256 });
    for (const params of PARAMS) compare(image, params, `${params.resizeShortSide}/${params.centerCrop}`);
  });

  it('sizes where a pass is skipped, and tiny and extreme shapes', () => {
    const random = seededRandom(7);
    for (const [width, height] of [
      [256, 256],
      [256, 300],
      [300, 256],
      [224, 224],
      [1, 1],
      [3, 700],
      [700, 3],
      [257, 255],
      [2000, 1200],
    ]) {
      const data = new Uint8Array(width * height * 3);
      for (let i = 0; i < data.length; i++) data[i] = Math.floor(random.uniform() * 256);
      for (const params of PARAMS) compare({ width, height, data }, params, `${width}×${height}`);
    }
  });

  it('refuses a region outside the output, as the TypeScript does', () => {
    const image = { width: 10, height: 10, data: new Uint8Array(300) };
    expect(() => preprocess(image, IMAGENET_PREPROCESSING, new Float32Array(10), 0)).toThrow(RangeError);
  });
});

describe.skipIf(!load.ok)('the native path reproduces the golden tensors of the official preprocessing', () => {
  const addon = load.ok ? load.addon : (undefined as never);
  const support = createImageSupport(wasmModules, {
    jpeg: nativeJpegCodec(addon),
    preprocess: nativePreprocess(addon),
  });

  it.each(['m0', 'm1'] as const)('%s: all images, bit for bit', async (variant) => {
    const golden = readGolden(variant);
    const elements = inputElements(IMAGENET_PREPROCESSING);
    const out = new Float32Array(golden.images.length * elements);
    for (const [index, image] of golden.images.entries()) {
      const bytes = read(path.join(sharedDir, 'images/imagenet-sample', image));
      const limits = { maxPixels: 50_000_000, resizeShortSide: 256 };
      await support.write(bytes, { limits, preprocessing: IMAGENET_PREPROCESSING }, out, index * elements, () => 0);
    }
    expect(sameBits(out, golden.input)).toBe(true);
  });
});
