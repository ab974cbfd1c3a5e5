/**
 * ImageNet-style accuracy of the built models, for users with real weights and real data:
 *   npm run eval -- --images DIR [--labels FILE] [--models m0,m0-fp32] [--out DIR] [--limit N] [--json]
 * DIR is a folder per synset (n01440764/…), or a flat folder with --labels FILE (file name + class index or synset).
 * Runs the service's own decoder and eval preprocessing, and onnxruntime-node on CPU.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createImageSupport, imageToInput } from '../worker/core/model-input/image-input.js';
import { loadImageWasmModules } from '../worker/runtimes/node/image-wasm.js';
import { createOrtNodeBackend } from '../worker/runtimes/node/inference/ort-node.js';
import { inputElements } from '../worker/core/preprocess/transform.js';
import { listLabelledImages } from '../models/toolchain/dataset.js';
import { readManifest } from '../models/toolchain/manifest-file.js';
import { formatTable } from '../models/toolchain/table.js';
import { topIndices } from '../models/toolchain/verify/index.js';
import { targetDir } from '../models/toolchain/targets.js';
import { runCli, UsageError, UserError } from './lib/build-cli.js';

const BATCH = 16;
const MAX_PIXELS = 100_000_000;

const USAGE = `usage: npm run eval -- --images DIR [--labels FILE] [--models m0,m0-fp32] [--out DIR] [--limit N] [--json]

  --images DIR     a folder per synset (n01440764/…), or a flat folder with --labels
  --labels FILE    file name + class index or synset per line
  --models LIST    which built models (default: all in the manifest)
  --out DIR        the build folder (default ${path.relative(process.cwd(), targetDir('node'))})
  --limit N        only the first N images
  --json           rows as JSON on stdout`;

async function main(argv: string[]): Promise<void> {
  const { values: flags } = parseArgs({
    args: argv,
    options: {
      images: { type: 'string' },
      labels: { type: 'string' },
      models: { type: 'string' },
      out: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!flags.images) throw new UsageError('--images DIR is required');
  const limit = flags.limit === undefined ? undefined : Number(flags.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0))
    throw new UsageError(`--limit must be a positive integer, got ${JSON.stringify(flags.limit)}`);
  const modelsDir = path.resolve(flags.out ?? targetDir('node'));
  const manifest = await readManifest(modelsDir);
  if (!manifest) throw new UserError(`${modelsDir}/manifest.json not found: run \`npm run models -- build\` first`);
  const wanted = flags.models?.split(',').map((m) => m.trim());
  const models = manifest.models.filter((m) => !wanted || wanted.includes(m.name));
  for (const name of wanted ?? []) {
    if (!models.some((m) => m.name === name))
      throw new UsageError(
        `no model ${name} in the manifest (built: ${manifest.models.map((m) => m.name).join(', ')})`,
      );
  }

  let images = await listLabelledImages(flags.images, flags.labels);
  if (limit) images = images.slice(0, limit);
  const support = createImageSupport(await loadImageWasmModules());
  const backend = createOrtNodeBackend({ device: 'cpu' });
  const rows = [];

  for (const model of models) {
    const session = await backend.load(new Uint8Array(await readFile(path.join(modelsDir, model.file))));
    const plane = inputElements(model.preprocessing);
    let top1 = 0;
    let top5 = 0;
    const started = performance.now();
    for (let start = 0; start < images.length; start += BATCH) {
      const chunk = images.slice(start, start + BATCH);
      const input = new Float32Array(chunk.length * plane);
      for (const [i, item] of chunk.entries()) {
        const bytes = new Uint8Array(await readFile(item.file));
        await imageToInput(support, bytes, model.preprocessing, input, i * plane, { maxPixels: MAX_PIXELS });
      }
      const crop = model.preprocessing.centerCrop;
      const { data, dims } = await session.run(input, [chunk.length, 3, crop, crop]);
      const classes = dims[1];
      for (const [i, item] of chunk.entries()) {
        const top = topIndices(data.subarray(i * classes, (i + 1) * classes), 5);
        if (top[0] === item.label) top1++;
        if (top.includes(item.label)) top5++;
      }
      process.stderr.write(`\r${model.name}: ${Math.min(start + BATCH, images.length)}/${images.length}`);
    }
    process.stderr.write('\n');
    await session.release();
    rows.push({
      model: model.name,
      id: model.id,
      images: images.length,
      'top-1 %': Number(((100 * top1) / images.length).toFixed(2)),
      'top-5 %': Number(((100 * top5) / images.length).toFixed(2)),
      'img/s': Number((images.length / ((performance.now() - started) / 1000)).toFixed(1)),
      checkpoint: model.source.checkpoint,
    });
  }
  console.log(flags.json ? JSON.stringify(rows, null, 2) : formatTable(rows));
}

void runCli(USAGE, main);
