/**
 * The body limit against request bodies only a client inside the isolate can send as these tests do: an endless
 * stream, and a Content-Length that promises more than the stream holds. The other error cases run on both runtimes
 * (test/service/conformance/errors.cases.ts); over real HTTP the Node build's are test/runtimes/node/hostile-client.test.ts.
 */
import { env } from 'cloudflare:workers';
import { afterEach, describe, expect, it } from 'vitest';
import { expectProblem } from './conformance/http.js';
import { expectStillServing, worker } from '../runtimes/workerd/helpers.js';

const MAX_BODY_BYTES = Number(env.MAX_BODY_BYTES);

afterEach(async () => {
  await expectStillServing();
});

/**
 * An endless body stream that counts what the server pulled from it. When the worker answers 413 without reading
 * it all, workerd logs "Network connection lost" for the abandoned upload: expected, it is the client side.
 */
function endlessBody(chunkBytes = 64 * 1024): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  let pulled = 0;
  const chunk = new Uint8Array(chunkBytes).fill(0xab);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { stream, pulled: () => pulled };
}

describe('413 over a limit, streamed', () => {
  it('body-too-large from Content-Length, before the body is read', async () => {
    const { stream, pulled } = endlessBody();
    const declared = MAX_BODY_BYTES + 1;
    const request = new Request('http://edge.test/v1/classify', {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'image/png', 'content-length': String(declared) },
    });
    const problem = await expectProblem(await worker(request), 413, 'body-too-large');
    expect(problem.limit).toBe(MAX_BODY_BYTES);
    expect(pulled()).toBeLessThan(MAX_BODY_BYTES);
  });

  it('body-too-large while streaming a body of unknown length, stopping soon after the limit', async () => {
    const { stream, pulled } = endlessBody();
    const request = new Request('http://edge.test/v1/classify', {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'image/png' },
    });
    expect(request.headers.get('content-length')).toBeNull();
    // The stream never ends: without a streaming count this request would never be answered.
    await expectProblem(await worker(request), 413, 'body-too-large');
    expect(pulled()).toBeLessThan(2 * MAX_BODY_BYTES);
  });
});
