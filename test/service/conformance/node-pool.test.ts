/**
 * The same conformance cases through the decode pool (2 threads): the same golden scores, limits and problem codes
 * as decoding on the HTTP thread (server-conformance.test.ts), and /v1/models shows the pool doing the work.
 */
import { expect, it } from 'vitest';
import { defineNodeConformance } from './node-target.js';

const { server } = defineNodeConformance({ decodeThreads: 2 });

it('decodes through the pool', async () => {
  const body = (await (await fetch(`${server().url}/v1/models`)).json()) as {
    execution: { decode: { threads: number; images: number; restarts: number } };
  };
  expect(body.execution.decode.threads).toBe(2);
  expect(body.execution.decode.images).toBeGreaterThan(0);
  expect(body.execution.decode.restarts).toBe(0);
});
