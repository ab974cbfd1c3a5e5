/**
 * The deployed entry (wrangler.toml `main`, worker/runtimes/workerd/cloudflare.ts) bundled as `wrangler deploy` bundles it and
 * run in workerd (scripts/lib/local-edge.ts, as `npm start` runs it): the default model's session is created during
 * isolate start-up from the bundled copy of its file, so the first classify reads and creates nothing and answers
 * correctly; other models still load on first use; a folder without the default model bundles no bytes and serves as
 * before. The registry's matching rules are tested in test/service/registry/startup-session.workerd.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleEdgeWorker, type LocalEdge, startLocalEdge } from '../../../scripts/lib/local-edge.js';
import { writeConformanceModels, writeSolidColourImages } from '../../service/conformance/models.js';
import {
  CRIMSON,
  expectPredictions,
  expectedSolidScores,
  okJson,
  type Prediction,
} from '../../service/conformance/http.js';
import type { TinyModelInfo } from '../../service/conformance/test-data.js';

interface ClassifyBody {
  predictions: Prediction[];
  timing: Record<string, number>;
}

let workDir: string;
let modelsDir: string;
let crimson: Uint8Array;
let tiny: TinyModelInfo;
let tiny10: TinyModelInfo;

beforeAll(async () => {
  workDir = mkdtempSync(path.join(os.tmpdir(), 'startup-session-'));
  modelsDir = path.join(workDir, 'models');
  const models = writeConformanceModels(modelsDir);
  tiny = { name: 'tiny', ...models.tiny };
  tiny10 = { name: 'tiny-10', ...models.tiny10 };
  await writeSolidColourImages((name, bytes) => {
    if (name === `${CRIMSON.name}.png`) crimson = bytes;
  });
});

afterAll(() => rmSync(workDir, { recursive: true, force: true }));

/** The deployed entry serving the conformance models with DEFAULT_MODEL = `defaultModel`, in a fresh workerd. */
async function startEdge(defaultModel: string): Promise<LocalEdge> {
  const options = await bundleEdgeWorker({
    modelsDir,
    outDir: path.join(workDir, `dist-${defaultModel}`),
    buildRoot: path.join(workDir, 'build'),
    vars: { DEFAULT_MODEL: defaultModel, RESULT_CACHE: 'off' },
  });
  return startLocalEdge(options);
}

async function classify(edge: LocalEdge, model: string): Promise<ClassifyBody> {
  const response = await fetch(new URL(`/v1/classify?model=${model}&top_k=5`, edge.url), {
    method: 'POST',
    body: crimson,
    headers: { 'content-type': 'image/png' },
  });
  return okJson<ClassifyBody>(response);
}

describe('the deployed entry in workerd', () => {
  it("creates the default model's session at start-up: the first classify reads and creates nothing", async () => {
    const edge = await startEdge('tiny');
    try {
      const first = await classify(edge, 'tiny');
      expect(first.timing.model_read_ms).toBe(0);
      expect(first.timing.session_ms).toBe(0);
      expectPredictions(first.predictions, expectedSolidScores(CRIMSON.rgb, tiny), 5);

      const other = await classify(edge, 'tiny-10');
      expect(other.timing.session_ms).toBeGreaterThan(0);
      expectPredictions(other.predictions, expectedSolidScores(CRIMSON.rgb, tiny10), 5);
    } finally {
      await edge.dispose();
    }
  });

  it('bundles no model when the folder has no DEFAULT_MODEL, and loads each model on first use', async () => {
    const edge = await startEdge('not-in-this-folder');
    try {
      const first = await classify(edge, 'tiny');
      expect(first.timing.session_ms).toBeGreaterThan(0);
      expectPredictions(first.predictions, expectedSolidScores(CRIMSON.rgb, tiny), 5);
    } finally {
      await edge.dispose();
    }
  });
});
