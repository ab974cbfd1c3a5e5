/**
 * wasm/jpeg versus @jsquash/jpeg inside local workerd (wrangler's dev server, worker.ts).
 *
 *   npx tsx scripts/bench/jpeg/workerd.ts [--runs 5]
 *
 * Times each decode request from Node (round trip on loopback with a tiny JSON answer, ~1 ms of the total),
 * `runs` per row after one untimed warm-up request; reports medians and the ratio to @jsquash/jpeg's median on
 * the same file. Memory inside the isolate is reported as the decoder's wasm memory size.
 * Offline, wrangler logs a harmless `getaddrinfo ENOTFOUND` while trying to fetch its Request.cf data.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { unstable_startWorker } from 'wrangler';
import { exitOnHelp } from '../../lib/cli.js';
import { median } from '../lib/stats.js';

exitOnHelp(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const photos = path.resolve(here, '../../../../shared/images/photos');
const FILES = ['phone-4032x3024-exif6.jpg', 'safe-landing-5120x2880.jpg'];
const CONFIGS = [
  { decoder: 'jsquash', scale: 1 },
  { decoder: 'wasm-jpeg', scale: 1 },
  { decoder: 'wasm-jpeg', scale: 4 },
  { decoder: 'wasm-jpeg', scale: 8 },
];

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1] || 5) || 5;
const worker = await unstable_startWorker({
  name: 'jpeg-bench',
  entrypoint: path.join(here, 'worker.ts'),
  compatibilityDate: '2026-04-01',
  dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, watch: false, logLevel: 'warn', persist: false },
});
try {
  await worker.ready;
  console.log(`workerd (wrangler dev), ${runs} decodes per row after 1 warm-up, medians\n`);
  console.log('file                        decoder      scale  output      time ms  ×jsquash  wasm mem MB');
  for (const file of FILES) {
    const put = await worker.fetch('http://bench/', { method: 'PUT', body: readFileSync(path.join(photos, file)) });
    await put.text();
    let baseline = NaN;
    for (const { decoder, scale } of CONFIGS) {
      const url = `http://bench/?decoder=${decoder}&scale=${scale}`;
      const times: number[] = [];
      let last: { width: number; height: number; wasmMemoryBytes: number } | undefined;
      for (let i = 0; i <= runs; i++) {
        const start = performance.now();
        const response = await worker.fetch(url);
        if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
        last = (await response.json()) as typeof last;
        if (i > 0) times.push(performance.now() - start);
      }
      const ms = median(times);
      if (decoder === 'jsquash') baseline = ms;
      console.log(
        [
          file.padEnd(27),
          decoder.padEnd(12),
          `1/${scale}`.padEnd(6),
          `${last!.width}×${last!.height}`.padEnd(11),
          ms.toFixed(0).padStart(7),
          (ms / baseline).toFixed(2).padStart(9),
          (last!.wasmMemoryBytes / 2 ** 20).toFixed(1).padStart(12),
        ].join(' '),
      );
    }
  }
} finally {
  await worker.dispose();
}
