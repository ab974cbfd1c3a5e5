/**
 * npm run bench:soak -- [--requests N] [--concurrency C] [--sample-every K] [--models DIR] [--seed S]
 *
 * N requests (default 10,000), C at a time (default 4), against the Worker in workerd (Miniflare, bundled as
 * `wrangler deploy` bundles it): a seeded mix of valid images (ImageNet JPEGs, PNG, GIF, WebP, now and then the
 * 12 MP phone photo), bad ones (truncated, not an image, over the pixel limit) and hostile ones (a
 * 1×7,600,000 PNG, one-byte IDAT chunks, metadata floods, LZW at its maximum expansion, random byte mutations).
 * Every K requests (default 500) the isolate's memory is sampled through workerd's inspector (retained after a full
 * collection: scripts/bench/lib/isolate-memory.ts) with the process RSS. Reports throughput, p50/p99 of the valid
 * requests (the ordinary images), counts by status and problem code (5xx called out), the memory samples and their trend (least squares,
 * MiB per 1,000 requests): flat is the target.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { craftGif, literalCodes, solidCodes } from '../../test/helpers/hostile-gif.js';
import { grayPng, oneByteIdatPng, tallPng } from '../../test/helpers/hostile-png.js';
import { seededRandom } from '../../test/helpers/random.js';
import { docComment, runCli } from '../lib/cli.js';
import { countOption, stringOptions } from './lib/run.js';
import { percentile } from './lib/stats.js';
import { bundleWorker, startWorkerd, statusMiB } from './lib/workerd.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shared = path.resolve(repoRoot, '../shared');
const fixtures = path.join(repoRoot, 'test/fixtures/images');
const MiB = 2 ** 20;
const WORKER_NAME = 'bench-soak';

/** The seeded generator behind the mix (--seed), set before the first request. */
let random: () => number;

interface Input {
  name: string;
  /** An ordinary image (not crafted): its latencies are the p50/p99 reported. */
  normal: boolean;
  weight: number;
  bytes: () => Uint8Array;
}

const file = (p: string) => {
  const bytes = new Uint8Array(readFileSync(p));
  return () => bytes;
};
const once = (make: () => Uint8Array) => {
  let bytes: Uint8Array | undefined;
  return () => (bytes ??= make());
};
const imagenet = file(path.join(shared, 'images/imagenet-sample/n01440764_tench.JPEG'));

/** A valid JPEG with a few random bytes changed: usually 422, sometimes still an image. */
function mutated(): Uint8Array {
  const bytes = Uint8Array.from(imagenet());
  for (let i = 0; i < 8; i++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
  return bytes;
}

const INPUTS: Input[] = [
  { name: 'ImageNet JPEG', normal: true, weight: 40, bytes: imagenet },
  {
    name: 'ImageNet JPEG 2',
    normal: true,
    weight: 10,
    bytes: file(path.join(shared, 'images/imagenet-sample/n01560419_bulbul.JPEG')),
  },
  { name: 'PNG', normal: true, weight: 8, bytes: file(path.join(fixtures, 'png-rgb8-interlaced.png')) },
  { name: 'GIF', normal: true, weight: 5, bytes: file(path.join(fixtures, 'gif-basic.gif')) },
  { name: 'WebP', normal: true, weight: 5, bytes: file(path.join(fixtures, 'webp-lossy.webp')) },
  {
    name: '12 MP photo',
    normal: true,
    weight: 2,
    bytes: file(path.join(shared, 'images/photos/phone-4032x3024-exif6.jpg')),
  },
  { name: 'truncated JPEG', normal: false, weight: 5, bytes: file(path.join(fixtures, 'jpeg-truncated.jpg')) },
  { name: 'not an image', normal: false, weight: 3, bytes: file(path.join(fixtures, 'not-an-image.txt')) },
  { name: 'too many pixels', normal: false, weight: 3, bytes: file(path.join(fixtures, 'gif-huge.gif')) },
  { name: 'mutated JPEG', normal: false, weight: 8, bytes: mutated },
  { name: 'PNG 1×7,600,000', normal: false, weight: 3, bytes: once(() => tallPng()) },
  { name: 'PNG one-byte IDATs', normal: false, weight: 2, bytes: once(() => oneByteIdatPng(300, 300)) },
  {
    name: 'GIF 1,025 comments',
    normal: false,
    weight: 3,
    bytes: once(() => craftGif({ screen: [64, 48], frame: [64, 48], codes: literalCodes([1]), comments: 1025 })),
  },
  {
    name: 'GIF LZW max expansion 3400²',
    normal: false,
    weight: 3,
    bytes: once(() => craftGif({ screen: [3400, 3400], frame: [3400, 3400], codes: solidCodes(3400 * 3400) })),
  },
  { name: 'PNG 2600² stored', normal: false, weight: 0.5, bytes: once(() => grayPng(2600, 2600, 1 << 16, 0)) },
];
const totalWeight = INPUTS.reduce((n, input) => n + input.weight, 0);

function pick(): Input {
  let r = random() * totalWeight;
  for (const input of INPUTS) if ((r -= input.weight) < 0) return input;
  return INPUTS[0];
}

interface MemorySample {
  requests: number;
  retainedMiB: number;
  totalMiB: number;
  rssMiB: number;
}

/** Least-squares slope of y over x. */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0) / sxx;
}

async function main(argv: string[]): Promise<void> {
  const values = stringOptions(argv, {
    requests: '10000',
    concurrency: '4',
    'sample-every': '500',
    models: path.join(repoRoot, 'models/build/edge'),
    seed: '9',
  });
  const requests = countOption(values.requests, 'requests');
  const concurrency = countOption(values.concurrency, 'concurrency');
  const sampleEvery = countOption(values['sample-every'], 'sample-every');
  random = seededRandom(countOption(values.seed, 'seed')).uniform;
  const options = await bundleWorker({
    modelsDir: values.models,
    outDir: path.join(repoRoot, '.cache/bench-soak/dist'),
    name: WORKER_NAME,
    log: console.log,
  });
  const workerd = await startWorkerd(options, WORKER_NAME);
  try {
    const { url, pid } = workerd;
    const samples: MemorySample[] = [];
    const sample = async (done: number) => {
      const s = await workerd.probe!.sample();
      samples.push({
        requests: done,
        retainedMiB: s.retainedBytes / MiB,
        totalMiB: s.totalBytes / MiB,
        rssMiB: statusMiB(pid, 'VmRSS'),
      });
    };
    const counts = new Map<string, number>();
    const validMs: number[] = [];
    let fiveXX = 0;
    let sent = 0;
    let done = 0;
    let nextSample = sampleEvery;
    // The first classify loads the model; the soak starts from there.
    await (await fetch(new URL('/v1/classify', url), { method: 'POST', body: imagenet() })).text();
    await sample(0);
    const started = performance.now();
    const client = async () => {
      while (sent < requests) {
        sent++;
        const input = pick();
        const t0 = performance.now();
        const response = await fetch(new URL('/v1/classify', url), { method: 'POST', body: input.bytes() });
        const text = await response.text();
        const ms = performance.now() - t0;
        const code = response.status === 200 ? '' : ` ${(JSON.parse(text) as { code?: string }).code}`;
        const key = `${response.status}${code}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        if (response.status >= 500) fiveXX++;
        if (input.normal && response.status === 200) validMs.push(ms);
        done++;
        if (done >= nextSample) {
          nextSample += sampleEvery;
          await sample(done);
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, client));
    const seconds = (performance.now() - started) / 1000;
    if (samples[samples.length - 1].requests !== done) await sample(done);

    console.log(
      `\n${done} requests, ${concurrency} at a time, in ${seconds.toFixed(0)} s: ${(done / seconds).toFixed(1)}/s`,
    );
    console.log(
      `normal images answered 200: ${validMs.length}; p50 ${percentile(validMs, 0.5).toFixed(1)} ms, ` +
        `p99 ${percentile(validMs, 0.99).toFixed(1)} ms; 5xx: ${fiveXX}`,
    );
    console.log('by status and code:');
    for (const [key, n] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`  ${key.padEnd(28)} ${n}`);
    console.log('isolate memory (MiB; retained = after a full collection) and workerd RSS:');
    console.log('  requests  retained     total       RSS');
    for (const s of samples) {
      console.log(
        `  ${String(s.requests).padStart(8)}  ${s.retainedMiB.toFixed(1).padStart(8)}  ${s.totalMiB.toFixed(1).padStart(8)}  ${s.rssMiB.toFixed(0).padStart(8)}`,
      );
    }
    // The trend from the first sample after warm-up traffic: the first requests grow caches once.
    const steady = samples.filter((s) => s.requests > 0);
    const trend = (pick: (s: MemorySample) => number) =>
      (slope(steady.map((s) => [s.requests, pick(s)])) * 1000).toFixed(2);
    console.log(
      `trend (MiB per 1,000 requests, from request ${steady[0]?.requests ?? 0}): retained ${trend((s) => s.retainedMiB)}, ` +
        `RSS ${trend((s) => s.rssMiB)}`,
    );
  } finally {
    await workerd.dispose();
  }
}

void runCli(docComment(readFileSync(new URL(import.meta.url), 'utf8')), main);
