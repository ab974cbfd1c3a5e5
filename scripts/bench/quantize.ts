/**
 * Chooses the edge format by measurement: every recipe in RECIPES against the fp32 export, for each variant, in
 * onnxruntime-web's wasm backend (1 thread, as in workerd) and onnxruntime-node CPU (1 thread), batch 1 —
 * file size, agreement with fp32 on held-out real images, and warm latency measured side by side.
 *
 *   npm run bench:quantize -- [m0 m1 …] [--graph optimized|naive] [--recipes a,b,…] [--runs 30] [--warmup 10] [--json out.json]
 *
 * Inputs: the synthetic checkpoints and images in ../shared (imagenet-sample: even positions calibrate, odd
 * positions and imagenet-val are held out).
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isVariant } from '../../models/efficientvit.js';
import type { InferenceBackend, ModelSession } from '../../worker/core/inference/backend.js';
import { createOrtNodeBackend } from '../../worker/runtimes/node/inference/ort-node.js';
import { createOrtWebBackend } from '../../worker/core/inference/ort-web.js';
import { preprocessImageFiles, splitCalibrationSet } from '../../models/toolchain/quantize/calibration.js';
import { readCheckpoint } from '../../models/toolchain/checkpoint/index.js';
import { exportOnnx, type GraphKind } from '../../models/toolchain/export/index.js';
import { formatTable } from '../../models/toolchain/table.js';
import { compareModels, type AgreementMetrics } from '../../models/toolchain/verify/compare.js';
import { measureLatencies, type LatencyStats } from '../../models/toolchain/verify/latency.js';
import { decodeModel, graphOf, GraphIndex } from '../../models/toolchain/quantize/graph.js';
import { quantizeModel, RECIPES } from '../../models/toolchain/quantize/index.js';
import { simulateQuantization } from '../../models/toolchain/quantize/simulate.js';
import { readFloatTensor } from '../../models/toolchain/quantize/tensors.js';
import { quantizeWeightsOnly } from '../../models/toolchain/quantize/weight-only.js';
import { exitOnHelp } from '../lib/cli.js';
import type { Variant } from '../../worker/core/manifest/manifest.js';
import { nodeToolchainHost } from '../lib/node-host.js';

exitOnHelp(import.meta.url);

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const shared = path.resolve(repoRoot, '../shared');

interface Args {
  variants: Variant[];
  graph: GraphKind;
  runs: number;
  warmup: number;
  recipes: string[];
  json?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { variants: [], graph: 'optimized', runs: 30, warmup: 10, recipes: Object.keys(RECIPES) };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--graph') args.graph = argv[++i] as GraphKind;
    else if (arg === '--runs') args.runs = Number(argv[++i]);
    else if (arg === '--warmup') args.warmup = Number(argv[++i]);
    else if (arg === '--json') args.json = argv[++i];
    else if (arg === '--recipes') args.recipes = argv[++i].split(',');
    else if (isVariant(arg)) args.variants.push(arg);
    else throw new Error(`unknown argument '${arg}'`);
  }
  if (args.variants.length === 0) args.variants = ['m0', 'm1'];
  const unknown = args.recipes.filter((r) => !(r in RECIPES));
  if (unknown.length > 0)
    throw new Error(`unknown recipes ${unknown.join(', ')}; known: ${Object.keys(RECIPES).join(', ')}`);
  return args;
}

async function imageFiles(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/** ‖W_int8·scale − W‖ / ‖W‖ over all quantized weights: the error weight-only int8 puts into the network. */
function weightRelativeError(fp32: Uint8Array): number {
  const source = new GraphIndex(graphOf(decodeModel(fp32)));
  const dequantized = new GraphIndex(graphOf(decodeModel(simulateQuantization(quantizeWeightsOnly(fp32)))));
  let error = 0;
  let norm = 0;
  for (const [name, tensor] of source.initializers) {
    const replacement = dequantized.initializers.get(`${name}_DequantizeLinear_Output`);
    if (!replacement) continue;
    const a = readFloatTensor(tensor);
    const b = readFloatTensor(replacement);
    for (let i = 0; i < a.length; i++) {
      error += (a[i] - b[i]) ** 2;
      norm += a[i] ** 2;
    }
  }
  return Math.sqrt(error / norm);
}

interface RecipeResult {
  recipe: string;
  description: string;
  bytes: number;
  quantizeSeconds: number;
  agreement: Record<string, AgreementMetrics>;
  latency: Record<string, LatencyStats>;
}

async function measureVariant(
  variant: Variant,
  args: Args,
  backends: InferenceBackend[],
  calibration: Float32Array[],
  heldOut: Float32Array[],
) {
  const checkpoint = readCheckpoint(
    new Uint8Array(await readFile(path.join(shared, `fixtures/checkpoints/efficientvit_${variant}.synthetic.pth`))),
  );
  const fp32 = exportOnnx(checkpoint.stateDict, variant, { graph: args.graph });
  const models: Record<string, { bytes: Uint8Array; description: string; seconds: number }> = {
    fp32: { bytes: fp32, description: `fp32 export (${args.graph} graph)`, seconds: 0 },
    // The same bytes in a second session: its 'speed' shows the measurement noise of this run.
    'fp32-control': { bytes: fp32, description: 'fp32 again, second session (noise control)', seconds: 0 },
  };
  for (const name of args.recipes) {
    const recipe = RECIPES[name];
    const start = performance.now();
    const bytes = await quantizeModel(fp32, calibration, recipe.options);
    models[name] = { bytes, description: recipe.description, seconds: (performance.now() - start) / 1000 };
  }
  const results: RecipeResult[] = Object.entries(models).map(([recipe, m]) => ({
    recipe,
    description: m.description,
    bytes: m.bytes.byteLength,
    quantizeSeconds: m.seconds,
    agreement: {},
    latency: {},
  }));
  const single = { data: heldOut[0], dims: [1, 3, 224, 224] };
  for (const backend of backends) {
    const sessions: Record<string, ModelSession> = {};
    for (const [name, m] of Object.entries(models)) sessions[name] = await backend.load(m.bytes);
    for (const result of results)
      result.agreement[backend.name] = await compareModels(sessions[result.recipe], sessions.fp32, heldOut);
    // All models take turns run by run, so machine noise hits them alike.
    const latency = await measureLatencies(sessions, single, { runs: args.runs, warmup: args.warmup });
    for (const result of results) result.latency[backend.name] = latency[result.recipe];
    for (const session of Object.values(sessions)) await session.release();
  }
  return { results, weightError: weightRelativeError(fp32) };
}

function table(variant: Variant, results: RecipeResult[], backends: InferenceBackend[]): string {
  const fp32 = results[0];
  const rows = results.map((r) => {
    const row: Record<string, string | number> = {
      recipe: r.recipe,
      MB: Number((r.bytes / 1e6).toFixed(2)),
      smaller: `${(fp32.bytes / r.bytes).toFixed(2)}×`,
    };
    for (const b of backends) {
      const short = b.name.includes('web') ? 'wasm' : 'cpu';
      const a = r.agreement[b.name];
      const l = r.latency[b.name];
      row[`${short} top1`] = `${(a.top1Agreement * 100).toFixed(0)}%`;
      row[`${short} top5`] = `${(a.top5Overlap * 100).toFixed(0)}%`;
      row[`${short} cos`] = `${a.meanCosine.toFixed(4)}/${a.minCosine.toFixed(3)}`;
      row[`${short} err`] = `${(a.meanRelativeError * 100).toFixed(1)}%`;
      row[`${short} ms`] = Number(l.medianMs.toFixed(2));
      row[`${short} cpu-ms`] = Number(l.cpuMedianMs.toFixed(2));
      row[`${short} speed`] = `${(fp32.latency[b.name].cpuMedianMs / l.cpuMedianMs).toFixed(2)}×`;
    }
    return row;
  });
  return `${variant.toUpperCase()}\n${formatTable(rows)}`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const sample = splitCalibrationSet(await imageFiles(path.join(shared, 'images/imagenet-sample')));
  const calibration = await preprocessImageFiles(sample.calibration, await nodeToolchainHost.imageCodec());
  const heldOut = await preprocessImageFiles(
    [...sample.heldOut, ...(await imageFiles(path.join(shared, 'images/imagenet-val')))],
    await nodeToolchainHost.imageCodec(),
  );
  const backends = [
    createOrtWebBackend(
      new Uint8Array(
        await readFile(path.join(repoRoot, 'node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm')),
      ),
    ),
    createOrtNodeBackend({ threads: 1 }),
  ];
  console.log(
    `calibration: ${calibration.length} images, held out: ${heldOut.length} images; ${args.warmup} warm-up + ${args.runs} timed runs each, interleaved`,
  );
  const all: Record<string, RecipeResult[]> = {};
  for (const variant of args.variants) {
    const { results, weightError } = await measureVariant(variant, args, backends, calibration, heldOut);
    all[variant] = results;
    console.log(`\n${table(variant, results, backends)}`);
    const margin = results[0].agreement[backends[0].name].medianReferenceMargin;
    console.log(`median fp32 top-1 − top-2 logit margin: ${margin.toFixed(2)} logit standard deviations`);
    console.log(
      `weight-only int8: relative weight error ${(weightError * 100).toFixed(2)}% (the 'err' columns are the resulting logit error)`,
    );
  }
  console.log('\nrecipes:');
  for (const name of args.recipes) console.log(`  ${name}: ${RECIPES[name].description}`);
  if (args.json) await writeFile(args.json, JSON.stringify({ args, results: all }, null, 2));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
