/**
 * The decode pool (worker/runtimes/node/decode-pool.ts) on real images and real threads: the same tensors and the same
 * problem codes as decoding on the calling thread, its bounded queue's 503 over real HTTP, and close() finishing
 * the images it accepted.
 */
import { CodedError } from '../../../worker/core/errors.js';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMAGENET_PREPROCESSING } from '../../../worker/core/manifest/manifest.js';
import { createImageSupport } from '../../../worker/core/model-input/image-input.js';
import { parseConfig } from '../../../worker/service/config.js';
import { loadImageWasmModules } from '../../../worker/runtimes/node/image-wasm.js';
import { createDecodePool, type DecodePool } from '../../../worker/runtimes/node/decode-pool.js';
import type { NodeServer } from '../../../worker/runtimes/node/server.js';
import { repoRoot, sharedRoot, writeConformanceModels } from '../../service/conformance/models.js';
import { CONFORMANCE_CONFIG } from '../../service/conformance/target.js';
import { startTestNodeServer } from '../../helpers/node-server.js';
import type { ImageJob, ImageSupport } from '../../../worker/core/model-input/image-input.js';

const ELEMENTS = 3 * 224 * 224;
const JOB: ImageJob = {
  limits: { maxPixels: 40_000_000, maxDecodeBytes: 256 * 1024 * 1024, resizeShortSide: 256 },
  preprocessing: IMAGENET_PREPROCESSING,
};
const clock = () => performance.now();
const fixtures = path.join(repoRoot, 'test/fixtures/images');
const photo = (name: string) => new Uint8Array(readFileSync(path.join(sharedRoot, 'images/photos', name)));

async function outcome(support: ImageSupport, bytes: Uint8Array): Promise<Float32Array | string> {
  const out = support.allocate(2 * ELEMENTS);
  try {
    // Row 1, so the offset is honoured too.
    await support.write(bytes, JOB, out, ELEMENTS, clock);
    expect(out.subarray(0, ELEMENTS).every((value) => value === 0)).toBe(true);
    return out.slice(ELEMENTS);
  } catch (error) {
    if (error instanceof CodedError) return error.code;
    throw error;
  }
}

describe('createDecodePool', () => {
  let pool: DecodePool;
  let local: ImageSupport;
  beforeAll(async () => {
    pool = await createDecodePool({ threads: 2, maxQueue: 1024 });
    local = createImageSupport(await loadImageWasmModules());
  });
  afterAll(() => pool?.close());

  it('writes bit for bit what the calling thread writes, and fails with the same codes, for every fixture format', async () => {
    const files = readdirSync(fixtures).filter((name) => /\.(jpe?g|png|webp|gif|bmp|bin|txt)$/.test(name));
    expect(files.length).toBeGreaterThan(50);
    const inputs = files.map((name) => new Uint8Array(readFileSync(path.join(fixtures, name))));
    inputs.push(photo('phone-4032x3024-exif6.jpg'));
    // All at once through the pool (both threads busy), one by one here.
    const pooled = await Promise.all(inputs.map((bytes) => outcome(pool, bytes)));
    const codes = new Set<string>();
    for (const [index, bytes] of inputs.entries()) {
      const expected = await outcome(local, bytes);
      expect(pooled[index], files[index] ?? 'phone photo').toEqual(expected);
      if (typeof expected === 'string') codes.add(expected);
    }
    // The fixtures cover the decoders' refusals, so the comparison covers them too.
    expect([...codes].sort()).toEqual(
      expect.arrayContaining(['corrupt-image', 'too-many-pixels', 'unsupported-format']),
    );
    expect(pool.stats()).toMatchObject({ threads: 2, queued: 0, busy: 0, restarts: 0 });
  });

  it('fills a tensor that is not shared memory through a copy', async () => {
    const bytes = new Uint8Array(readFileSync(path.join(fixtures, 'jpeg-baseline.jpg')));
    const plain = new Float32Array(ELEMENTS);
    await pool.write(bytes, JOB, plain, 0, clock);
    expect(plain).toEqual(await outcome(local, bytes));
  });
});

it('close() answers every image already accepted, then refuses new ones', async () => {
  const pool = await createDecodePool({ threads: 1, maxQueue: 8 });
  const bytes = new Uint8Array(readFileSync(path.join(fixtures, 'jpeg-progressive.jpg')));
  const out = pool.allocate(3 * ELEMENTS);
  const accepted = [0, 1, 2].map((row) => pool.write(bytes, JOB, out, row * ELEMENTS, clock));
  await pool.close();
  const timings = await Promise.all(accepted);
  expect(timings.every((timing) => timing.decode_ms > 0)).toBe(true);
  expect(out.subarray(2 * ELEMENTS)).toEqual(out.subarray(0, ELEMENTS));
  await expect(pool.write(bytes, JOB, out, 0, clock)).rejects.toThrow(/closed/);
});

describe('over HTTP', () => {
  let modelsDir: string;
  let server: NodeServer;
  beforeAll(async () => {
    modelsDir = mkdtempSync(path.join(os.tmpdir(), 'decode-pool-models-'));
    writeConformanceModels(modelsDir);
    server = await startTestNodeServer(modelsDir, {
      decodeThreads: 1,
      decodeQueue: 1,
      config: parseConfig({ ...CONFORMANCE_CONFIG, MAX_MEGAPIXELS: '16', MAX_BODY_BYTES: String(8 << 20) }),
    });
  });
  afterAll(async () => {
    await server?.close();
    if (modelsDir) rmSync(modelsDir, { recursive: true, force: true });
  });

  it('a full decode queue answers 503 overloaded with Retry-After; the images it took are answered', async () => {
    // A 12 MP photo takes a thread far longer than reading 12 uploads takes the HTTP thread.
    const body = photo('phone-4032x3024-exif6.jpg');
    const responses = await Promise.all(
      Array.from({ length: 12 }, () =>
        fetch(`${server.url}/v1/classify?model=m0-fp32`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'image/jpeg' },
        }),
      ),
    );
    const refused = responses.filter((response) => response.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const response of responses) {
      if (response.status === 503) {
        expect(response.headers.get('retry-after')).toBe('1');
        expect(await response.json()).toMatchObject({ code: 'overloaded', limit: 1 });
      } else {
        expect(response.status).toBe(200);
        expect(((await response.json()) as { predictions: unknown[] }).predictions).toHaveLength(5);
      }
    }
    const models = (await (await fetch(`${server.url}/v1/models`)).json()) as {
      execution: { decode: { rejected: number; maxQueue: number } };
    };
    expect(models.execution.decode).toMatchObject({ rejected: refused.length, maxQueue: 1 });
  });
});
