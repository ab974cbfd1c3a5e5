/**
 * A trained head served at the edge (workerd, onnxruntime-web) on its base model's session: the setup trained it with
 * the real trainer on fashion-mnist/train (test/helpers/trained-head.ts); here the served answers for the held-out
 * test/ images must equal the trainer's own predictions, label for label.
 */
import { describe, expect, inject, it } from 'vitest';
import { classifyRequest, expectProblem, multipart, okJson, type Prediction } from './conformance/http.js';
import { fixture, worker } from '../runtimes/workerd/helpers.js';

const head = inject('trainedHead');
const LABELS = [...new Set(head.predictions.map((p) => p.label))].sort();

interface Listed {
  name: string;
  id: string;
  labels: string;
  classes: number;
  loaded: boolean;
  embedding_dims: number | null;
  head?: { base: string; labels: number; held_out_accuracy: number | null };
}

const image = (file: string) => fixture(`shared/images/fashion-mnist/test/${file}`);

describe('a trained head at the edge', () => {
  it('/v1/models lists it with its base, its label count and its held-out accuracy', async () => {
    const body = await okJson<{ models: Listed[] }>(await worker(new Request('http://edge.test/v1/models')));
    const listed = body.models.find((m) => m.name === head.name)!;
    expect(listed).toMatchObject({
      labels: head.name,
      classes: 10,
      embedding_dims: 192,
      head: { base: head.base, labels: 10, held_out_accuracy: head.heldOutAccuracy },
    });
    expect(body.models.find((m) => m.name === head.shifted)!.head!.held_out_accuracy).toBeNull();
  });

  it('answers with its own labels (no synset) and refuses a top_k over its label count', async () => {
    const [first] = head.predictions;
    const body = await okJson<{ model: string; predictions: Prediction[] }>(
      await worker(classifyRequest(await image(first.file), { query: `model=${head.name}&top_k=10` })),
    );
    expect(body.model).toBe(`${head.name}@efficientvit_m0.fp32`);
    expect(body.predictions.map((p) => p.label).sort()).toEqual(LABELS);
    for (const p of body.predictions) expect(p.synset).toBeUndefined();
    expect(body.predictions.reduce((sum, p) => sum + p.score, 0)).toBeCloseTo(1, 5);
    await expectProblem(
      await worker(classifyRequest(await image(first.file), { query: `model=${head.name}&top_k=11` })),
      400,
      'bad-parameter',
    );
  });

  it('the served answers for every held-out image equal the trainer’s predictions, label for label', async () => {
    const served: { file: string; label: string; score: number }[] = [];
    // Batches of 8 (the test MAX_BATCH): one session call each, as a client would send them.
    for (let i = 0; i < head.predictions.length; i += 8) {
      const batch = head.predictions.slice(i, i + 8);
      const parts = await Promise.all(batch.map(async (p) => ({ bytes: await image(p.file), filename: p.file })));
      const body = await okJson<{ results: { filename: string; predictions: Prediction[] }[] }>(
        await worker(classifyRequest(multipart(parts), { query: `model=${head.name}&top_k=1`, contentType: null })),
      );
      for (const result of body.results)
        served.push({ file: result.filename, label: result.predictions[0].label, score: result.predictions[0].score });
    }
    expect(served.map((s) => [s.file, s.label])).toEqual(head.predictions.map((p) => [p.file, p.predicted]));
    // The calibrated scores too, to within the two runtimes' float32 rounding.
    for (const [i, s] of served.entries()) expect(Math.abs(s.score - head.predictions[i].score)).toBeLessThan(1e-3);
    const correct = head.predictions.filter((p) => p.label === p.predicted).length;
    expect(correct / head.predictions.length).toBe(head.heldOutAccuracy);
  });

  it('embed answers its base model’s embedding', async () => {
    const bytes = await image(head.predictions[0].file);
    const embed = (model: string) =>
      worker(
        new Request(`http://edge.test/v1/embed?model=${model}`, {
          method: 'POST',
          body: bytes,
          headers: { 'content-type': 'application/octet-stream' },
        }),
      );
    const viaHead = await okJson<{ dims: number; embedding: number[] }>(await embed(head.name));
    const viaBase = await okJson<{ dims: number; embedding: number[] }>(await embed(head.base));
    expect(viaHead.dims).toBe(192);
    expect(viaHead.embedding).toEqual(viaBase.embedding);
  });

  it("the result cache keys answers by the head's sha256: neither the base nor another head shares them", async () => {
    const bytes = await image(head.predictions[1].file);
    const classify = (model: string, headers: Record<string, string> = {}) =>
      worker(classifyRequest(bytes, { query: `model=${model}&top_k=3`, headers }));
    const first = await classify(head.name, { 'cache-control': 'no-cache' });
    expect(first.headers.get('x-cache')).toBe('miss');
    const computed = await okJson<{ predictions: Prediction[] }>(first);
    const second = await classify(head.name);
    expect(second.headers.get('x-cache')).toBe('hit');
    expect((await okJson<{ predictions: Prediction[] }>(second)).predictions).toEqual(computed.predictions);

    const shifted = await classify(head.shifted, { 'cache-control': 'no-cache' });
    expect(shifted.headers.get('x-cache')).toBe('miss');
    const other = await okJson<{ predictions: Prediction[] }>(shifted);
    expect(other.predictions).not.toEqual(computed.predictions);
    const again = await classify(head.shifted);
    expect(again.headers.get('x-cache')).toBe('hit');
    expect((await okJson<{ predictions: Prediction[] }>(again)).predictions).toEqual(other.predictions);
  });

  it('an unknown name lists the heads among the models there are', async () => {
    const problem = await expectProblem(
      await worker(classifyRequest(await image(head.predictions[0].file), { query: 'model=nope' })),
      404,
      'unknown-model',
    );
    expect(problem.available).toEqual(expect.arrayContaining([head.name, head.shifted]));
  });
});
