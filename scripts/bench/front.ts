/**
 * `npm run bench:front`: what scripts/lib/continue-front.ts (the Node front `npm start` listens through) costs and
 * saves, against workerd's own socket in the same process, requests alternating between the two:
 * fetch uploads of the ImageNet-size JPEG and the 4 MB phone photo (p50), and curl uploads of the phone photo with
 * curl's default `Expect: 100-continue` and without it (`-H 'Expect:'`).
 *
 *   npm run bench:front -- [--runs 20]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { formatTable } from '../../models/toolchain/table.js';
import { targetDir } from '../../models/toolchain/targets.js';
import { bundleEdgeWorker, REPO_ROOT, startLocalEdge } from '../lib/local-edge.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log('usage: npm run bench:front -- [--runs 20]   (serves models/build/edge: run `npm start` once first)');
  process.exit(0);
}
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  console.error('error: --runs must be an integer ≥ 1');
  process.exit(2);
}
const files = {
  imagenet: path.resolve(REPO_ROOT, '../shared/images/imagenet-val/ILSVRC2012_val_00000010.jpeg'),
  phone: path.resolve(REPO_ROOT, '../shared/images/photos/phone-4032x3024-exif6.jpg'),
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function viaFetch(url: URL, body: Uint8Array): Promise<number> {
  const started = performance.now();
  const response = await fetch(new URL('/v1/classify?top_k=1', url), {
    method: 'POST',
    body,
    headers: { 'content-type': 'image/jpeg' },
  });
  await response.text();
  if (response.status !== 200) throw new Error(`answered ${response.status}`);
  return performance.now() - started;
}

async function viaCurl(url: URL, file: string, expect: boolean): Promise<number> {
  const { stdout } = await promisify(execFile)('curl', [
    ...['-s', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', '--max-time', '60'],
    ...(expect ? [] : ['-H', 'Expect:']),
    ...['-H', 'content-type: image/jpeg', '--data-binary', `@${file}`, new URL('/v1/classify', url).href],
  ]);
  const [status, seconds] = stdout.trim().split(' ');
  if (status !== '200') throw new Error(`curl answered ${status}`);
  return Number(seconds) * 1000;
}

const bundleDir = mkdtempSync(path.join(os.tmpdir(), 'bench-front-'));
const edge = await startLocalEdge(
  // RESULT_CACHE off: the same images again and again would otherwise be cache hits.
  await bundleEdgeWorker({
    modelsDir: targetDir('edge'),
    outDir: path.join(bundleDir, 'dist'),
    vars: { RESULT_CACHE: 'off' },
  }),
  { front: true },
);
try {
  const targets = { front: edge.url, workerd: await edge.miniflare.ready };
  const imagenet = new Uint8Array(readFileSync(files.imagenet));
  const phone = new Uint8Array(readFileSync(files.phone));
  for (let i = 0; i < 5; i++) for (const url of Object.values(targets)) await viaFetch(url, imagenet);
  const cases: [string, (url: URL) => Promise<number>, number][] = [
    ['fetch, ImageNet 500×375 (100 KB)', (url) => viaFetch(url, imagenet), runs],
    ['fetch, phone 12 MP (4 MB)', (url) => viaFetch(url, phone), Math.ceil(runs / 2)],
    ['curl, phone 12 MP, Expect: 100-continue', (url) => viaCurl(url, files.phone, true), 3],
    ["curl, phone 12 MP, -H 'Expect:'", (url) => viaCurl(url, files.phone, false), 3],
  ];
  const rows = [];
  for (const [name, run, n] of cases) {
    const times = { front: [] as number[], workerd: [] as number[] };
    for (let i = 0; i < n; i++) {
      // Alternating which goes first, so drift hits both alike.
      const order = i % 2 ? (['front', 'workerd'] as const) : (['workerd', 'front'] as const);
      for (const which of order) times[which].push(await run(targets[which]));
    }
    rows.push({
      upload: name,
      n,
      'workerd p50 ms': Math.round(median(times.workerd)),
      'front p50 ms': Math.round(median(times.front)),
      'front ÷ workerd': (median(times.front) / median(times.workerd)).toFixed(2),
    });
  }
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join('/')}, ${os.cpus().length} CPUs\n`,
  );
  console.log(formatTable(rows));
} finally {
  await edge.dispose();
  rmSync(bundleDir, { recursive: true, force: true });
}
