/**
 * Hostile input through the real worker in workerd: a chunked body whose stream fails is 400 malformed-body (it was a 500),
 * a PNG chopped into one-byte IDAT chunks or of a degenerate aspect ratio is 413 image-too-complex before it is
 * inflated; after each the isolate still classifies correctly. And a long PNG decode hands the isolate back: here
 * the DecompressionStream's reads resolve without returning to the event loop, so without the decoder's own yields
 * a timer (or another request) waits for the whole decode.
 */
import webpWasm from '@jsquash/webp/codec/dec/webp_dec.wasm';
import { afterEach, expect, it } from 'vitest';
import jpegWasm from '../../../wasm/jpeg/jpeg.wasm';
import { createImageDecoder } from '../../../worker/core/image/decode.js';
import { craftGif, solidCodes } from '../../helpers/hostile-gif.js';
import { grayPng, oneByteIdatPng, tallPng } from '../../helpers/hostile-png.js';
import { appWith } from '../../runtimes/workerd/app-with.js';
import { expectStillServing, worker } from '../../runtimes/workerd/helpers.js';
import { expectProblem } from '../../service/conformance/http.js';

afterEach(async () => {
  await expectStillServing();
});

// The app itself in this isolate: through SELF.fetch workerd ends a failed body as if complete, so the stream's error
// is only seen where the app reads the request directly (as it does from a real socket).
it('a chunked body that cannot be read is 400 malformed-body, not 500', async () => {
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < 3) controller.enqueue(new Uint8Array(1024).fill(0x89));
      else controller.error(new Error('connection reset by the test'));
    },
  });
  const request = new Request('http://edge.test/v1/classify', {
    method: 'POST',
    body: stream,
    headers: { 'content-type': 'image/png' },
  });
  const problem = await expectProblem(await appWith({})(request), 400, 'malformed-body');
  expect(problem.detail).toContain('cannot be read');
});

it('a PNG split into one-byte IDAT chunks is 413 image-too-complex', async () => {
  const body = oneByteIdatPng(300, 300);
  const request = new Request('http://edge.test/v1/classify', {
    method: 'POST',
    body,
    headers: { 'content-type': 'image/png' },
  });
  const problem = await expectProblem(await worker(request), 413, 'image-too-complex');
  expect(problem.limit).toBeGreaterThan(0);
});

it('a 1×3,000,000 PNG is 413 image-too-complex (its scanlines cost ~10× its pixels)', async () => {
  const request = new Request('http://edge.test/v1/classify', {
    method: 'POST',
    body: tallPng(3_000_000),
    headers: { 'content-type': 'image/png' },
  });
  const problem = await expectProblem(await worker(request), 413, 'image-too-complex');
  expect(problem.detail).toContain('3000000 scanlines');
});

it.each([
  ['PNG', () => grayPng(2000, 2000, 1 << 16, 1)],
  ['GIF', () => craftGif({ screen: [2000, 2000], frame: [2000, 2000], codes: solidCodes(4_000_000) })],
])('%s: a timer set before a 4 MP decode runs during it', async (_, image) => {
  const decoder = createImageDecoder({ jpeg: jpegWasm, webp: webpWasm });
  const bytes = image();
  let settled = false;
  const during = new Promise<boolean>((resolve) => setTimeout(() => resolve(!settled), 0));
  const decoded = await decoder.decodeImage(bytes, { maxPixels: 4_000_000 }).finally(() => {
    settled = true;
  });
  expect([decoded.width, decoded.height]).toEqual([2000, 2000]);
  expect(await during).toBe(true);
});
