/**
 * npm run bench:hostile -- [--runs N] [--before DIR] [--workerd] [--skip-decode] [--models DIR]
 *
 * The crafted images of docs/reliability.md against normal ones of the same pixels:
 * - decode only, in Node, by the real decoder (worker/core/image/decode.ts), median of N runs; with --before DIR also by
 *   another checkout's decoder (e.g. `git archive <commit> | tar -x -C DIR`, node_modules linked in), the two run
 *   alternately so load drift hits both alike. "refused" rows are the work bound: turned away from the header.
 * - --workerd: the Worker in workerd (Miniflare, bundled as `wrangler deploy` bundles it; --before's too): while one
 *   worst-case request is in flight (after one warm classify and one untimed round of each case; then 3 timed),
 *   /healthz is asked back to back; its latency (median, max) shows whether the decode holds the isolate.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { crc32 } from 'node:zlib';
import { Miniflare } from 'miniflare';
import type { ImageDecoder } from '../../worker/core/image/decode.js';
import { craftGif, literalCodes, solidCodes } from '../../test/helpers/hostile-gif.js';
import { grayPng, oneByteIdatPng, tallPng } from '../../test/helpers/hostile-png.js';
import { bundleWorker } from './lib/workerd.js';
import { exitOnHelp } from '../lib/cli.js';

exitOnHelp(import.meta.url);

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    before: { type: 'string' },
    workerd: { type: 'boolean', default: false },
    'skip-decode': { type: 'boolean', default: false },
    models: { type: 'string', default: path.join(repoRoot, 'models/build/edge') },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run bench:hostile -- [--runs N] [--before DIR] [--workerd] [--skip-decode] [--models DIR]');
  process.exit(0);
}
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`error: --runs must be a positive integer, not ${values.runs}`);
  process.exit(2);
}

interface Side {
  name: string;
  root: string;
}
const sides: Side[] = [
  ...(values.before ? [{ name: 'before', root: path.resolve(values.before) }] : []),
  { name: 'after', root: repoRoot },
];

async function loadDecoder(root: string): Promise<ImageDecoder> {
  const { createImageDecoder } = await import(path.join(root, 'worker/core/image/decode.ts'));
  const { loadImageWasmModules } = await import(path.join(root, 'worker/runtimes/node/image-wasm.ts'));
  return createImageDecoder(await loadImageWasmModules());
}

const DECODE_CASES: [string, () => Buffer][] = [
  ['PNG 1100×1100 gray, one IDAT', () => grayPng(1100, 1100, 1 << 16)],
  ['PNG 1100×1100 gray, one-byte IDAT chunks', () => oneByteIdatPng()],
  ['PNG 1×7,600,000 RGBA16', () => tallPng()],
  ['PNG 2757×2757 gray (7.6 MP)', () => grayPng(2757, 2757, 1 << 16, 9)],
  ['PNG 8×950,000 gray (7.6 MP)', () => grayPng(8, 950_000, 1 << 16, 9)],
  ['PNG 64×48 + 100,000 ancillary chunks', () => ancillaryFlood(100_000)],
  [
    'GIF 4000×4000, LZW max expansion',
    () => craftGif({ screen: [4000, 4000], frame: [4000, 4000], codes: solidCodes(16e6) }),
  ],
  [
    'GIF 64×48 + 1,000,000 clear codes',
    () => craftGif({ screen: [64, 48], frame: [64, 48], codes: literalCodes([0], 1e6) }),
  ],
  [
    'GIF 64×48 + 1,000,000 comment extensions',
    () => craftGif({ screen: [64, 48], frame: [64, 48], codes: literalCodes([0]), comments: 1e6 }),
  ],
];

/** A 64×48 PNG with `count` empty private chunks after IHDR (each with its CRC). */
function ancillaryFlood(count: number): Buffer {
  const png = grayPng(64, 48, 1 << 16);
  const chunk = Buffer.from([0, 0, 0, 0, ...Buffer.from('prIv'), 0, 0, 0, 0]);
  chunk.writeUInt32BE(crc32(Buffer.from('prIv')), 8);
  return Buffer.concat([png.subarray(0, 33), Buffer.alloc(count * 12, chunk), png.subarray(33)]);
}

async function decodeOnly(): Promise<void> {
  const decoders = await Promise.all(sides.map((side) => loadDecoder(side.root)));
  console.log(
    `decode only (Node), median of ${runs} runs, ms${sides.length > 1 ? '; before and after alternate' : ''}`,
  );
  console.log(
    ['input'.padEnd(44), 'bytes'.padStart(10), ...sides.map((s) => `${s.name} ms`.padStart(10)), '  result'].join(' '),
  );
  for (const [name, make] of DECODE_CASES) {
    const bytes = make();
    const times = sides.map(() => [] as number[]);
    const results = sides.map(() => 'ok');
    for (let run = 0; run < runs; run++) {
      for (const [i, decoder] of decoders.entries()) {
        const started = performance.now();
        try {
          await decoder.decodeImage(bytes, { maxPixels: 16_000_000 });
        } catch (error) {
          const { status, code } = error as { status?: number; code?: string };
          results[i] = status ? `${status} ${code}` : String(error);
        }
        times[i].push(performance.now() - started);
      }
    }
    const medians = times.map((t) =>
      t
        .sort((a, b) => a - b)
        [t.length >> 1].toFixed(1)
        .padStart(10),
    );
    console.log([name.padEnd(44), String(bytes.length).padStart(10), ...medians, ` ${results.join(' → ')}`].join(' '));
  }
}

const WORKERD_CASES: [string, () => Buffer][] = [
  ['PNG 1×7,600,000 RGBA16', () => tallPng()],
  ['PNG 2600×2600 gray, stored', () => grayPng(2600, 2600, 1 << 16, 0)],
  [
    'GIF 3400×3400, LZW max expansion',
    () => craftGif({ screen: [3400, 3400], frame: [3400, 3400], codes: solidCodes(3400 * 3400) }),
  ],
];

/** Timed rounds per workerd case (after one untimed round). */
const WORKERD_REPEATS = 3;

/** One classify request, with /healthz asked back to back until it is answered. */
async function withHealthz(url: URL, body: Buffer) {
  const started = performance.now();
  let done = false;
  const request = fetch(new URL('/v1/classify', url), {
    method: 'POST',
    body,
    headers: { 'content-type': 'image/png' },
  })
    .then(async (response) => ({ status: response.status, code: ((await response.json()) as { code?: string }).code }))
    .finally(() => {
      done = true;
    });
  const healthz: number[] = [];
  while (!done) {
    const asked = performance.now();
    try {
      await fetch(new URL('/healthz', url)).then((r) => r.text());
      healthz.push(performance.now() - asked);
    } catch {
      // A kept-alive connection that workerd closed as it was reused: ask again on a new one.
    }
  }
  return { ...(await request), ms: performance.now() - started, healthz };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

async function healthzDuringDecodes(): Promise<void> {
  console.log('\nworkerd (Miniflare): /healthz asked back to back while one request is in flight');
  console.log(
    ['side', 'input'.padEnd(36), 'status', 'request ms (median)', 'healthz n', 'p50 ms', 'max ms'].join('  '),
  );
  for (const side of sides) {
    const options = await bundleWorker({
      modelsDir: values.models,
      outDir: path.join(repoRoot, `.cache/bench-hostile/${side.name}`),
      name: 'bench-hostile',
      root: side.root,
    });
    const miniflare = new Miniflare(options);
    try {
      const url = await miniflare.ready;
      // Warm: the first classify also loads the model (a cold path of its own).
      const warm = await fetch(new URL('/v1/classify', url), { method: 'POST', body: grayPng(64, 48, 1 << 16) });
      if (warm.status !== 200) throw new Error(`the warm-up classify answered ${warm.status}: ${await warm.text()}`);
      await warm.text();
      for (const [name, make] of WORKERD_CASES) {
        const body = make();
        const results: { status: number; code?: string; ms: number; healthz: number[] }[] = [];
        // One untimed round first: the first large decode in a fresh isolate is several times slower (cold code).
        for (let round = 0; round <= WORKERD_REPEATS; round++) results.push(await withHealthz(url, body));
        const timed = results.slice(1);
        const latencies = timed.flatMap((r) => r.healthz).sort((a, b) => a - b);
        const requestMs = timed.map((r) => r.ms).sort((a, b) => a - b)[timed.length >> 1];
        console.log(
          [
            side.name.padEnd(6),
            name.padEnd(36),
            `${timed[0].status} ${timed[0].code ?? ''}`.padEnd(6),
            requestMs.toFixed(0).padStart(10),
            String(latencies.length).padStart(9),
            percentile(latencies, 0.5).toFixed(1).padStart(6),
            latencies[latencies.length - 1].toFixed(1).padStart(6),
          ].join('  '),
        );
      }
    } finally {
      await miniflare.dispose();
    }
  }
}

if (!values['skip-decode']) await decodeOnly();
if (values.workerd) await healthzDuringDecodes();
