/**
 * Issue 9 through the real worker in workerd: a chunked body whose stream fails is 400 malformed-body (it was a 500),
 * a PNG chopped into one-byte IDAT chunks is 413 image-too-complex before it is inflated; after each the isolate
 * still classifies correctly.
 */
import { afterEach, expect, it } from 'vitest';
import { oneByteIdatPng } from '../helpers/hostile-png.js';
import { appWith } from './app-with.js';
import { expectStillServing, worker } from './helpers.js';
import { expectProblem } from '../conformance/http.js';

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
