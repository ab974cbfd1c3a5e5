/**
 * The decode memory budget (MAX_DECODE_MIB) through the real app in workerd: for PNG, GIF, WebP and JPEG, an image
 * whose decode its codec states to need one byte more than the budget is refused from its header with 413
 * too-many-pixels naming the most pixels such an image may have, and one that needs exactly the budget is
 * classified (the budget is lowered to fit these small images, as config.test.ts lowers the other limits); the JPEG
 * decoder's wasm memory is capped at the budget; the 12 MP phone photo fits the default budget; and images decode
 * one at a time per isolate without concurrent requests or failures getting in each other's way.
 */
import { problemStatus } from '../../../worker/api/problems.js';
import jpegWasm from '../../../wasm/jpeg/jpeg.wasm';
import { describe, expect, it } from 'vitest';
import { IMAGENET_PREPROCESSING } from '../../../worker/core/manifest/manifest.js';
import { DEFAULT_CONFIG } from '../../../worker/service/config.js';
import { decodeMemory, probeImage } from '../../../worker/core/image/decode.js';
import { ImageError } from '../../../worker/core/image/errors.js';
import { createJpegCodec } from '../../../worker/core/image/jpeg.js';
import { maxPixelsWithin, MiB } from '../../../worker/core/image/memory.js';
import { expectStillServing, fixture, tinyModel, worker } from '../../runtimes/workerd/helpers.js';
import {
  classifyRequest,
  CRIMSON,
  expectedSolidScores,
  expectPredictions,
  expectProblem,
  multipart,
  okJson,
  type Prediction,
} from '../../service/conformance/http.js';
import { appWith } from '../../runtimes/workerd/app-with.js';

/** What the app's decoder states for this image, decoded for the tiny model's preprocessing (ImageNet's). */
const statementOf = (bytes: Uint8Array) =>
  decodeMemory(bytes, { minShortSide: IMAGENET_PREPROCESSING.resizeShortSide });

const IMAGES = [
  { name: 'PNG', file: 'generated/crimson.png' },
  { name: 'GIF', file: 'generated/crimson.gif' },
  { name: 'lossless WebP', file: 'generated/crimson.webp' },
  { name: 'lossy WebP', file: 'fixtures/images/webp-lossy.webp' },
  { name: 'progressive JPEG', file: 'fixtures/images/jpeg-progressive.jpg' },
];

describe('an image over the decode budget', () => {
  it.each(IMAGES)(
    '$name: one byte over is 413 too-many-pixels with its limit, before decoding; exactly the budget is classified',
    async ({ file }) => {
      const bytes = await fixture(file);
      const stated = statementOf(bytes);
      const { format, width, height } = probeImage(bytes);
      const budget = stated.bytes - 1;

      const problem = await expectProblem(
        await appWith({ maxDecodeBytes: budget })(classifyRequest(bytes)),
        413,
        'too-many-pixels',
      );
      const limit = maxPixelsWithin(stated, budget);
      expect(problem).toMatchObject({ width, height, limit });
      expect(limit).toBeLessThan(width * height);
      expect(problem.detail).toContain(`the ${format} image is ${width}×${height}`);
      expect(problem.detail).toContain(`${stated.variant}) takes up to`);
      expect(problem.detail).toContain(`at most ${limit} pixels`);
      // The same isolate goes on serving.
      await expectStillServing();

      const body = await okJson<{ predictions: Prediction[] }>(
        await appWith({ maxDecodeBytes: stated.bytes })(classifyRequest(bytes)),
      );
      expect(body.predictions).toHaveLength(5);
    },
  );

  it('in a batch, is that image’s error; the others are classified', async () => {
    const png = await fixture('generated/crimson.png');
    const webp = await fixture('generated/crimson.webp');
    // The WebP decoder's heap starts at 16 MiB: its statement is far above the PNG's, which is the budget here.
    expect(statementOf(webp).bytes).toBeGreaterThan(statementOf(png).bytes);
    const app = appWith({ maxDecodeBytes: statementOf(png).bytes });
    const response = await app(classifyRequest(multipart([{ bytes: webp }, { bytes: png }]), { contentType: null }));
    const { results } = await okJson<{
      results: { error?: { status: number; code: string }; predictions?: Prediction[] }[];
    }>(response);
    expect(results[0].error).toMatchObject({ status: 413, code: 'too-many-pixels' });
    expectPredictions(results[1].predictions!, expectedSolidScores(CRIMSON.rgb, tinyModel('tiny')), 5);
  });
});

describe("the JPEG decoder's wasm memory follows the budget", () => {
  it('a decode needing more wasm memory than its cap fails with too-many-pixels 413, and the codec goes on working', async () => {
    // The 12 MP photo's 4 MB file alone does not fit in 2 MiB of wasm memory.
    const photo = await fixture('shared/images/photos/phone-4032x3024-exif6.jpg');
    const codec = createJpegCodec(jpegWasm);
    const error = await codec.decode(photo, { scaleDenom: 4, maxMemoryBytes: 2 * MiB }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ImageError);
    expect([(error as ImageError).code, problemStatus((error as ImageError).code)]).toEqual(['too-many-pixels', 413]);
    const decoded = await codec.decode(photo, { scaleDenom: 4, maxMemoryBytes: 16 * MiB });
    expect([decoded.width, decoded.height]).toEqual([1008, 756]);
    expect(decoded.decoderMemoryBytes).toBeLessThanOrEqual(16 * MiB);
  });

  it('the 12 MP phone photo is classified under the default budget (decoded at 1/4)', async () => {
    const photo = await fixture('shared/images/photos/phone-4032x3024-exif6.jpg');
    expect(statementOf(photo).bytes).toBeLessThan(DEFAULT_CONFIG.maxDecodeBytes / 2);
    const app = appWith({ maxImagePixels: 16_000_000, maxDecodeBytes: DEFAULT_CONFIG.maxDecodeBytes });
    await okJson(await app(classifyRequest(photo, { contentType: 'image/jpeg' })));
  });
});

// Through the worker's entry (SELF): each call is a request of its own, as in production. The gate hands over between
// requests; PNG decodes do I/O (DecompressionStream), which must stay in their own request's context.
describe('one decode at a time per isolate', () => {
  it('concurrent requests all succeed, with their own results', async () => {
    const formats = ['png', 'gif', 'webp', 'png', 'png'] as const;
    const images = await Promise.all(formats.map((format) => fixture(`generated/${CRIMSON.name}.${format}`)));
    const responses = await Promise.all(images.concat(images).map((bytes) => worker(classifyRequest(bytes))));
    for (const response of responses) {
      const body = await okJson<{ predictions: Prediction[] }>(response);
      expectPredictions(body.predictions, expectedSolidScores(CRIMSON.rgb, tinyModel('tiny')), 5);
    }
  });

  it('a failing decode among them releases the gate: the others, and later requests, are served', async () => {
    const png = await fixture(`generated/${CRIMSON.name}.png`);
    const truncated = png.subarray(0, png.length - 40); // cut inside the image data: corrupt-image 422
    const [bad, good, alsoBad, alsoGood] = await Promise.all(
      [truncated, png, truncated, png].map((bytes) => worker(classifyRequest(bytes))),
    );
    await expectProblem(bad, 422, 'corrupt-image');
    await expectProblem(alsoBad, 422, 'corrupt-image');
    await okJson(good);
    await okJson(alsoGood);
    await expectStillServing();
  });
});
