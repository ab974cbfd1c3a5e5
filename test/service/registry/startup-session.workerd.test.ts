/**
 * The session the deployed entry (worker/runtimes/workerd/cloudflare.ts) creates at isolate start-up, adopted by the registry
 * for the model whose file it was created from: the first request then reads and creates nothing, and answers as a
 * session created from the file would. Bytes that do not match the manifest entry (size or sha256), or a start-up
 * session that failed, leave the model to load from its file; an unclaimed one is released once other models fill
 * MAX_LOADED_MODELS. The bundled entry itself runs in workerd in
 * test/runtimes/workerd/startup-entry.test.ts.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { StartupModel } from '../../../worker/service/registry/registry.js';
import { workerdDeps } from '../../../worker/runtimes/workerd/handler.js';
import { CRIMSON, classifyRequest, okJson, type Prediction } from '../conformance/http.js';
import { appWith } from '../../runtimes/workerd/app-with.js';
import { fixture } from '../../runtimes/workerd/helpers.js';

interface ClassifyBody {
  predictions: Prediction[];
  timing: Record<string, number>;
}

const deps = workerdDeps(env);
const modelBytes = async (file: string) => {
  const bytes = await deps.files.read(file);
  if (!bytes) throw new Error(`${file} is missing from the test models`);
  return bytes;
};
const startupFrom = (bytes: Uint8Array, session = deps.backend.load(bytes)): StartupModel => ({ bytes, session });

async function classifyFirst(startup: StartupModel | undefined, model: string): Promise<ClassifyBody> {
  const fetch = appWith({ resultCache: false }, startup ? { startup } : {});
  const image = await fixture(`generated/${CRIMSON.name}.png`);
  return okJson<ClassifyBody>(await fetch(classifyRequest(image, { query: `model=${model}&top_k=5` })));
}

const expectSameAnswer = (body: ClassifyBody, reference: ClassifyBody) => {
  expect(body.predictions.map((p) => p.index)).toEqual(reference.predictions.map((p) => p.index));
  body.predictions.forEach((p, i) => expect(p.score).toBeCloseTo(reference.predictions[i].score, 6));
};

describe('a session created at start-up', () => {
  it('is adopted for the model it was created from: the first request reads and creates nothing', async () => {
    const reference = await classifyFirst(undefined, 'tiny');
    expect(reference.timing.session_ms).toBeGreaterThan(0);

    const body = await classifyFirst(startupFrom(await modelBytes('tiny.onnx')), 'tiny');
    expect(body.timing.model_read_ms).toBe(0);
    expect(body.timing.session_ms).toBe(0);
    expectSameAnswer(body, reference);
  });

  it('is matched by content, not by name: a request for another model loads that one from its file', async () => {
    const startup = startupFrom(await modelBytes('tiny-10.onnx'));
    const fetch = appWith({ resultCache: false }, { startup });
    const image = await fixture(`generated/${CRIMSON.name}.png`);
    const ask = async (model: string) =>
      okJson<ClassifyBody>(await fetch(classifyRequest(image, { query: `model=${model}&top_k=5` })));
    expect((await ask('tiny')).timing.session_ms).toBeGreaterThan(0);
    expect((await ask('tiny-10')).timing.session_ms).toBe(0);
  });

  it('is not adopted when its bytes differ from the file the manifest names (same size, other sha256)', async () => {
    const file = await modelBytes('tiny.onnx');
    const altered = file.slice();
    altered[altered.length - 1] ^= 0xff;
    // The session really is tiny's: only the integrity check can tell that these bytes are not the deployed file.
    const body = await classifyFirst(startupFrom(altered, deps.backend.load(file)), 'tiny');
    expect(body.timing.session_ms).toBeGreaterThan(0);
    expectSameAnswer(body, await classifyFirst(undefined, 'tiny'));
  });

  it('unclaimed, counts against MAX_LOADED_MODELS: released once other models fill it, kept while they fit', async () => {
    const observed = async (maxLoadedModels: number) => {
      const bytes = await modelBytes('tiny-10.onnx');
      let released = false;
      // A real session, its release observed.
      const session = deps.backend.load(bytes).then((real) => ({
        ...real,
        inputName: real.inputName,
        outputName: real.outputName,
        run: real.run.bind(real),
        release: async () => {
          released = true;
          await real.release();
        },
      }));
      const fetch = appWith({ resultCache: false, maxLoadedModels }, { startup: { bytes, session } });
      const image = await fixture(`generated/${CRIMSON.name}.png`);
      await okJson(await fetch(classifyRequest(image, { query: 'model=tiny' })));
      await session; // its release, when due, follows the session's creation
      await new Promise((resolve) => setTimeout(resolve, 0));
      const next = await okJson<ClassifyBody>(await fetch(classifyRequest(image, { query: 'model=tiny-10' })));
      return { released, nextSessionMs: next.timing.session_ms };
    };
    // One slot: tiny takes it, so the start-up session (tiny-10's) goes, and tiny-10 later loads from its file.
    expect(await observed(1)).toEqual({ released: true, nextSessionMs: expect.any(Number) });
    expect((await observed(1)).nextSessionMs).toBeGreaterThan(0);
    // Two slots: tiny and the start-up session fit, and tiny-10 adopts it.
    expect(await observed(2)).toEqual({ released: false, nextSessionMs: 0 });
  });

  it('that failed leaves the first request to load the model from its file', async () => {
    const failed = Promise.reject(new Error('start-up session failed'));
    failed.catch(() => undefined);
    const body = await classifyFirst(startupFrom(await modelBytes('tiny.onnx'), failed), 'tiny');
    expect(body.timing.session_ms).toBeGreaterThan(0);
    expectSameAnswer(body, await classifyFirst(undefined, 'tiny'));
  });
});
