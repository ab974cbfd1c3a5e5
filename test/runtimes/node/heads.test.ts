/**
 * A trained head on the Node build (onnxruntime-node, dynamic batching): the same head the workerd tests serve,
 * trained by the real trainer on fashion-mnist/train, answers the held-out test/ images as the trainer predicted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeServer } from '../../../worker/runtimes/node/server.js';
import { startTestNodeServer } from '../../helpers/node-server.js';
import { fashionTestImage, type TrainedHeadInfo, trainTestHead } from '../../helpers/trained-head.js';
import { repoRoot, writeConformanceModels } from '../../service/conformance/models.js';
import type { Prediction } from '../../service/conformance/http.js';

let dir: string;
let head: TrainedHeadInfo;
let server: NodeServer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'node-heads-'));
  writeConformanceModels(dir);
  head = await trainTestHead(dir, path.join(repoRoot, '.cache', 'labels'));
  server = await startTestNodeServer(dir);
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a trained head on the Node build', () => {
  it('is listed with its base and answers every held-out image as the trainer predicted', async () => {
    const listing = (await (await fetch(`${server.url}/v1/models`)).json()) as {
      models: { name: string; head?: { base: string; held_out_accuracy: number } }[];
    };
    expect(listing.models.find((m) => m.name === head.name)!.head).toMatchObject({
      base: head.base,
      held_out_accuracy: head.heldOutAccuracy,
    });
    const served = await Promise.all(
      head.predictions.map(async (p) => {
        const response = await fetch(`${server.url}/v1/classify?model=${head.name}&top_k=1`, {
          method: 'POST',
          body: fashionTestImage(p.file),
          headers: { 'content-type': 'application/octet-stream' },
        });
        expect(response.status).toBe(200);
        const body = (await response.json()) as { predictions: Prediction[] };
        return { label: body.predictions[0].label, score: body.predictions[0].score };
      }),
    );
    expect(served.map((s) => s.label)).toEqual(head.predictions.map((p) => p.predicted));
    for (const [i, s] of served.entries()) expect(Math.abs(s.score - head.predictions[i].score)).toBeLessThan(1e-4);
  });
});
