/**
 * `npm run bench:edge`: the Worker in real workerd, end to end over HTTP, next to the same pipeline in Node.
 *
 *   npm run bench:edge -- [--models DIR] [--checkpoints DIR] [--names m0,m1,m0-fp32,m1-fp32] [--images imagenet,cups,phone]
 *                         [--warm 20] [--warmup 5] [--memory-requests 3] [--node-threads 1] [--cold 5] [--mixed 20]
 *                         [--json FILE]
 *
 * The worker is the deployed entry (wrangler.toml `main`) as `wrangler deploy --dry-run` bundles it, run by Miniflare
 * in workerd with wrangler.toml's bindings and vars, the Static Assets binding MODELS pointing at --models, the result
 * cache off. Miniflare rather than `wrangler dev`: one workerd process per worker, whose memory can be read, and no
 * dev proxy between the client and the worker. One module per scenario, in scripts/bench/edge/:
 * - warm.ts, per image × model: a fresh workerd, its cold request, `warmup` untimed and `warm` timed requests, each
 *   alternating with the Node references (onnxruntime-node with --node-threads, and the same onnxruntime-web wasm);
 * - memory.ts: then `memory-requests` untimed requests, each followed by an isolate memory sample;
 * - cold.ts (--cold N, first image, per model): N more fresh workerd processes, cold request then requests 2–20;
 * - mixed.ts (--mixed K, when m0 and m1 are named): one workerd, m0 alone, alternating, random 50/50 at concurrency 4;
 * - targets.ts: ImageNet-size M0 ≤ 40 ms warm, the 12 MP photo ≤ 600 ms and < 128 MB of isolate memory.
 * Missing models are built first into --models (M0/M1, fp32 + int8) from --checkpoints, $EFFICIENTVIT_CHECKPOINTS
 * or the official release, as `npm start` does. --json FILE writes the run (edge/report.ts: EdgeRun), which
 * `npm run bench:report` turns into docs/performance.md's edge tables.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ModelSession } from '../../worker/core/inference/backend.js';
import { createImageSupport } from '../../worker/core/model-input/image-input.js';
import { createOrtNodeBackend } from '../../worker/runtimes/node/inference/ort-node.js';
import { createOrtWebBackendForNode } from '../../worker/runtimes/node/inference/ort-web-node.js';
import { loadImageWasmModules } from '../../worker/runtimes/node/image-wasm.js';
import { CHECKPOINTS_ENV } from '../../models/toolchain/checkpoint/sources.js';
import { formatTable } from '../../models/toolchain/table.js';
import { docComment, runCli, UsageError } from '../lib/cli.js';
import { type ColdStarts, runColdStarts } from './edge/cold.js';
import { type Mixed, runMixed } from './edge/mixed.js';
import { coldRows, type EdgeRun, latencyRows, memoryRows, mixedRows } from './edge/report.js';
import {
  EDGE_MODEL_NAMES,
  ensureModels,
  IMAGES,
  type ImageKey,
  imageBytes,
  REPO_ROOT,
  type Target,
  WORKER_NAME,
} from './edge/setup.js';
import { targetResults } from './edge/targets.js';
import { type Cell, runCell } from './edge/warm.js';
import { countOption, listOption, runRecord, stringOptions } from './lib/run.js';
import { bundleWorker } from './lib/workerd.js';

const log = (message: string) => process.stderr.write(`${message}\n`);

function parseOptions(argv: string[]) {
  const values = stringOptions(argv, {
    models: path.join(REPO_ROOT, 'models/build/edge'),
    checkpoints: undefined,
    names: EDGE_MODEL_NAMES.join(','),
    images: Object.keys(IMAGES).join(','),
    warm: '20',
    warmup: '5',
    'memory-requests': '3',
    'node-threads': '1',
    cold: '5',
    mixed: '20',
    json: undefined,
  });
  const names = listOption(values.names);
  for (const name of names)
    if (!EDGE_MODEL_NAMES.includes(name))
      throw new UsageError(`unknown model ${name} (edge models: ${EDGE_MODEL_NAMES.join(', ')})`);
  const images = listOption(values.images);
  for (const image of images)
    if (!(image in IMAGES)) throw new UsageError(`unknown image ${image} (${Object.keys(IMAGES).join(', ')})`);
  return {
    modelsDir: path.resolve(values.models),
    checkpointsDir: values.checkpoints ?? process.env[CHECKPOINTS_ENV] ?? undefined,
    names,
    images: images as ImageKey[],
    warm: countOption(values.warm, 'warm'),
    warmup: countOption(values.warmup, 'warmup', 0),
    memoryRequests: countOption(values['memory-requests'], 'memory-requests', 0),
    nodeThreads: countOption(values['node-threads'], 'node-threads', 0),
    cold: countOption(values.cold, 'cold', 0),
    mixed: countOption(values.mixed, 'mixed', 0),
    json: values.json,
  };
}

const MINIFLARE_VERSION = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules/miniflare/package.json'), 'utf8')) as { version: string }
).version;

async function main(argv: string[]): Promise<void> {
  const options = parseOptions(argv);
  const recorded = runRecord('bench:edge', argv);
  const entries = await ensureModels(options.modelsDir, options.names, options.checkpointsDir, log);
  const worker = await bundleWorker({
    modelsDir: options.modelsDir,
    outDir: path.join(REPO_ROOT, '.cache/bench-edge/dist'),
    name: WORKER_NAME,
    log,
  });
  const loadAverage = { start: os.loadavg(), end: [] as number[] };

  const support = createImageSupport(await loadImageWasmModules());
  const nativeBackend = createOrtNodeBackend({ device: 'cpu', threads: options.nodeThreads });
  const wasmBackend = await createOrtWebBackendForNode();
  const sessions = new Map<string, { nativeSession: ModelSession; wasmSession: ModelSession }>();
  const cells: Cell[] = [];
  try {
    for (const image of options.images) {
      const bytes = imageBytes(image);
      for (const entry of entries) {
        let pair = sessions.get(entry.name);
        if (!pair) {
          const model = new Uint8Array(readFileSync(path.join(options.modelsDir, entry.file)));
          pair = { nativeSession: await nativeBackend.load(model), wasmSession: await wasmBackend.load(model) };
          sessions.set(entry.name, pair);
        }
        log(`${IMAGES[image].label} × ${entry.name}`);
        cells.push(await runCell(options, { worker, image, bytes }, entry, { support, ...pair }));
      }
    }
  } finally {
    for (const pair of sessions.values()) {
      await pair.nativeSession.release();
      await pair.wasmSession.release();
    }
  }

  // Cold starts and mixed traffic send the first image.
  const first: Target = { worker, image: options.images[0], bytes: imageBytes(options.images[0]) };
  const colds: ColdStarts[] = [];
  if (options.cold > 0)
    for (const entry of entries) {
      log(`cold starts: ${options.cold} × ${entry.name}`);
      colds.push(await runColdStarts(options.cold, first, entry));
    }
  let mixed: Mixed | undefined;
  if (options.mixed > 0 && options.names.includes('m0') && options.names.includes('m1')) {
    log('mixed traffic');
    mixed = await runMixed(options.mixed, first);
  }
  loadAverage.end = os.loadavg();

  // The settings, --names and --images included (a superset of what runs before them recorded).
  const { json, checkpointsDir, ...settings } = options;
  const run: EdgeRun = {
    recorded,
    machine: { cpus: os.cpus().length, node: process.version, miniflare: MINIFLARE_VERSION, loadAverage },
    settings,
    cells,
    colds,
    mixed,
    targets: targetResults(cells),
  };
  printRun(run, options);
  if (json) writeFileSync(json, `${JSON.stringify(run, null, 1)}\n`);
}

function printRun(run: EdgeRun, options: ReturnType<typeof parseOptions>): void {
  const load = (values: number[]) => values.map((l) => l.toFixed(1)).join('/');
  const { start, end } = run.machine!.loadAverage;
  console.log(
    `workerd (Miniflare ${MINIFLARE_VERSION}) vs Node ${process.version} + onnxruntime-node (${options.nodeThreads || 'auto'} thread(s)) and onnxruntime-web; ` +
      `${os.cpus().length} CPUs; load average ${load(start)} at start, ${load(end)} at end\n` +
      `each cell: fresh workerd process, cold request, ${options.warmup} untimed + ${options.warm} timed warm requests alternating ` +
      `with the Node references (medians), then ${options.memoryRequests} untimed requests each followed by an isolate memory sample\n`,
  );
  console.log(formatTable(latencyRows(run)));
  console.log(
    '\nworker stages are the response `timing` (workerd advances its clock in whole ms); warm p50/p90 are end to end at' +
      '\nthe client, loopback HTTP and upload included. Node: no HTTP.\n',
  );
  console.log(formatTable(memoryRows(run)));
  console.log(
    "\nisolate: JS heap + ArrayBuffers (before collection, so the requests' garbage counts) + every wasm memory, the largest" +
      '\nsample after the cold request and each memory-pass request; retained: the same after a full collection.' +
      "\nRSS: the whole workerd process (runtime, Miniflare's own workers, V8's machine code for the wasm modules).\n",
  );
  for (const target of run.targets ?? [])
    console.log(`${target.pass ? 'PASS' : 'FAIL'}  ${target.what} (measured ${target.value.toFixed(1)})`);
  if (run.colds?.length) {
    console.log(
      '\ncold starts: fresh workerd processes, first request then requests 2–20 (median / p90 over processes, ms)',
    );
    console.log(formatTable(coldRows(run)));
    console.log(
      'req N: median over processes, end to end; worst of 2–5 × warm: per process the slowest of requests 2–5 over the' +
        "\ncell's warm p50, median / max. start CPU ms: workerd's own threads when ready (the global scope runs there," +
        "\nagainst Cloudflare's 1 s start-up limit); V8 bg CPU: V8's background threads (wasm compilation).",
    );
  }
  if (run.mixed) {
    console.log(
      `\nmixed traffic (${IMAGES[run.mixed.image].label}, one fresh workerd, after 3 untimed requests per model)`,
    );
    console.log(formatTable(mixedRows(run)));
  }
}

void runCli(docComment(readFileSync(new URL(import.meta.url), 'utf8')), main);
