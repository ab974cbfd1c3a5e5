/**
 * Peak memory of one image's decode against what its codec states from the header (worker/core/image/memory.ts):
 *
 *   npm run bench:decode-memory [-- --sizes 2,4,8,16] [--formats jpeg,png,gif,webp] [--budget-mib 40] [--runs 3] [--json]
 *
 * For each format and variant (JPEG baseline and progressive 4:2:0, decoded reduced as the service does; PNG 8-bit RGB
 * and RGBA; GIF; WebP lossy, lossy with alpha, lossless; plus a PNG and a WebP with EXIF orientation 6) at sizes around
 * their limits under the default budget, one row, each in a fresh Node process: a small image of the same kind is
 * decoded first (instantiating the decoders' wasm), then the measured decode through createImageDecoder, as the
 * service calls it but with no budget, so that images over it are measured too. Per row: the codec's statement
 * (decodeMemory); the peak RSS growth of that decode (VmHWM, reset through /proc/self/clear_refs just before it, minus
 * the RSS then; Linux only); their ratio; the median decode time of `runs` decodes; whether the image fits the
 * budget. A row whose measured growth exceeds its statement is marked FAIL, and the command exits non-zero.
 *
 * Node's numbers stand in for workerd's: the decoders are the same wasm and the same JavaScript. What differs is the
 * platform underneath: PNG inflates through the runtime's DecompressionStream (Node's zlib, which waits for the
 * reader; workerd's inflates each written slice whole, which the PNG statement counts), and when garbage (dropped
 * heaps, inflated chunks) is collected is up to each runtime's V8. RSS counts touched pages: untouched heap growth
 * does not show, while the statements count wasm memories at their full size. The child runs with glibc's mmap
 * threshold fixed at 64 KiB, so that a large buffer freed before the decode cannot lend it resident pages.
 *
 * Test images are generated with sharp from ../shared/images/photos (resized to each size) and cached under
 * .cache/bench-decode-memory/ (git-ignored).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { DEFAULT_CONFIG } from '../../worker/service/config.js';
import { createImageDecoder, decodeMemory, probeImage } from '../../worker/core/image/decode.js';
import { maxPixelsWithin, MiB } from '../../worker/core/image/memory.js';
import type { ImageFormat } from '../../worker/core/image/types.js';
import { loadImageWasmModules } from '../../worker/runtimes/node/image-wasm.js';
import { IMAGENET_PREPROCESSING } from '../../worker/core/manifest/manifest.js';
import { formatTable } from '../../models/toolchain/table.js';
import { exitOnHelp } from '../lib/cli.js';

exitOnHelp(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const PHOTO = path.resolve(here, '../../../shared/images/photos/safe-landing-5120x2880.jpg');
const CACHE = path.resolve(here, '../../.cache/bench-decode-memory');
/** What the service passes: large JPEGs decode reduced for this resize target. */
const SHORT_SIDE = IMAGENET_PREPROCESSING.resizeShortSide;
/** No budget in the measured decode (the JPEG decoder's memory is still capped, at this). */
const UNLIMITED = 4 * 1024 * MiB - 65536;

interface Variant {
  name: string;
  format: ImageFormat;
  /** Gets the photo's luminance as alpha: varied, so libwebp decodes it the costly way (a 32-bit ARGB image). */
  alpha?: boolean;
  encode: (image: sharp.Sharp) => sharp.Sharp;
  /** Only at these sizes (MP), when given. */
  sizes?: number[];
}

const rotated = (image: sharp.Sharp) => image.withMetadata({ orientation: 6 });

const VARIANTS: Variant[] = [
  { name: 'JPEG baseline 4:2:0', format: 'jpeg', encode: (i) => i.jpeg({ quality: 90 }) },
  { name: 'JPEG progressive 4:2:0', format: 'jpeg', encode: (i) => i.jpeg({ quality: 90, progressive: true }) },
  { name: 'PNG RGB 8-bit', format: 'png', encode: (i) => i.png() },
  { name: 'PNG RGBA 8-bit', format: 'png', alpha: true, encode: (i) => i.png() },
  { name: 'PNG RGB, EXIF 6', format: 'png', encode: (i) => rotated(i).png(), sizes: [4] },
  { name: 'GIF', format: 'gif', encode: (i) => i.gif({ effort: 1 }) },
  { name: 'WebP lossy', format: 'webp', encode: (i) => i.webp({ quality: 80 }) },
  { name: 'WebP lossy + alpha', format: 'webp', alpha: true, encode: (i) => i.webp({ quality: 80 }) },
  { name: 'WebP lossless', format: 'webp', encode: (i) => i.webp({ lossless: true, effort: 0 }) },
  { name: 'WebP lossy, EXIF 6', format: 'webp', encode: (i) => rotated(i).webp({ quality: 80 }), sizes: [2] },
];

/** 4:3 dimensions of about `megapixels` MP. */
function dimensions(megapixels: number): { width: number; height: number } {
  const height = Math.round(Math.sqrt((megapixels * 1e6 * 3) / 4));
  return { width: Math.round((height * 4) / 3), height };
}

const slug = (text: string) => text.toLowerCase().replace(/[^a-z0-9]+/g, '-');

async function imageFile(variant: Variant, width: number, height: number): Promise<string> {
  const file = path.join(
    CACHE,
    `${slug(variant.name + (variant.alpha ? ' luma alpha' : ''))}-${width}x${height}.${variant.format}`,
  );
  if (!existsSync(file)) {
    mkdirSync(CACHE, { recursive: true });
    const resized = () => sharp(PHOTO).resize(width, height, { fit: 'fill' });
    const image = variant.alpha
      ? resized().joinChannel(await resized().greyscale().raw().toBuffer(), { raw: { width, height, channels: 1 } })
      : resized();
    await variant.encode(image).toFile(file);
  }
  return file;
}

function procStatusKiB(field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/self/status`);
  return Number(match[1]);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

interface Measured {
  peakRssDeltaBytes: number;
  medianMs: number;
  output: string;
}

/** In a fresh process: warm up on `warmFile`, then decode `file` with the memory accounting, then `runs - 1` more. */
async function child(file: string, warmFile: string, runs: number): Promise<Measured> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  const decoder = createImageDecoder(await loadImageWasmModules());
  const options = { maxPixels: Number.MAX_SAFE_INTEGER, maxDecodeBytes: UNLIMITED, minShortSide: SHORT_SIDE };
  await decoder.decodeImage(new Uint8Array(readFileSync(warmFile)), options);
  // A view, not a copy: a freed copy's pages would be reused by the decode and hide its growth.
  const read = readFileSync(file);
  const bytes = new Uint8Array(read.buffer, read.byteOffset, read.byteLength);
  const times: number[] = [];
  let peak = NaN;
  let output = '';
  for (let i = 0; i < runs; i++) {
    gc();
    writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
    const rssBefore = procStatusKiB('VmRSS');
    const started = performance.now();
    let image: { width: number; height: number } | undefined = await decoder.decodeImage(bytes, options);
    times.push(performance.now() - started);
    if (i === 0) peak = (procStatusKiB('VmHWM') - rssBefore) * 1024;
    output = `${image.width}×${image.height}`;
    image = undefined;
  }
  return { peakRssDeltaBytes: peak, medianMs: median(times), output };
}

function option(args: string[], name: string, fallback: string): string {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
}

async function main() {
  const args = process.argv.slice(2);
  const runs = Number(option(args, '--runs', '3'));
  if (args[0] === '--child') {
    process.stdout.write(JSON.stringify(await child(args[1], args[2], runs)));
    return;
  }
  const sizes = option(args, '--sizes', '2,4,8,16').split(',').map(Number);
  const formats = option(args, '--formats', 'jpeg,png,gif,webp').split(',');
  const budget = Math.floor(Number(option(args, '--budget-mib', String(DEFAULT_CONFIG.maxDecodeBytes / MiB))) * MiB);
  if (!(Number.isInteger(runs) && runs >= 1) || sizes.some((s) => !(s > 0)) || !(budget > 0))
    throw new Error('bad --runs, --sizes or --budget-mib');

  const rows: Record<string, string | number>[] = [];
  let failures = 0;
  for (const variant of VARIANTS.filter((v) => formats.includes(v.format))) {
    const warm = await imageFile(variant, 1024, 768);
    for (const megapixels of variant.sizes ?? sizes) {
      const { width, height } = dimensions(megapixels);
      const file = await imageFile(variant, width, height);
      const bytes = new Uint8Array(readFileSync(file));
      const stated = decodeMemory(bytes, { minShortSide: SHORT_SIDE });
      const orientation = probeImage(bytes).orientation;
      const out = execFileSync(
        process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url), '--child', file, warm, '--runs', String(runs)],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 20,
          // glibc maps every block of 64 KiB or more afresh and unmaps it when freed (no dynamic threshold), so a
          // buffer freed earlier in the process cannot lend its resident pages to the decode and hide its growth.
          env: { ...process.env, MALLOC_MMAP_THRESHOLD_: '65536' },
        },
      );
      const measured = JSON.parse(out) as Measured;
      const ok = measured.peakRssDeltaBytes <= stated.bytes;
      if (!ok) failures++;
      rows.push({
        variant: variant.name + (orientation === 1 ? '' : ` (read as ${orientation})`),
        stored: `${width}×${height}`,
        MP: Number(((width * height) / 1e6).toFixed(1)),
        'file MiB': Number((bytes.length / MiB).toFixed(2)),
        decoded: measured.output,
        'stated MiB': Number((stated.bytes / MiB).toFixed(1)),
        'peak RSS Δ MiB': Number((measured.peakRssDeltaBytes / MiB).toFixed(1)),
        'stated/measured': Number((stated.bytes / measured.peakRssDeltaBytes).toFixed(2)),
        'decode ms': Math.round(measured.medianMs),
        [`at ${budget / MiB} MiB`]: stated.bytes <= budget ? 'decoded' : '413',
        [`max MP at ${budget / MiB} MiB`]: Number((maxPixelsWithin(stated, budget) / 1e6).toFixed(2)),
        check: ok ? 'ok' : 'FAIL: measured > stated',
      });
      if (!args.includes('--json')) process.stderr.write(`${variant.name} ${megapixels} MP done\n`);
    }
  }
  if (args.includes('--json')) {
    console.log(JSON.stringify({ node: process.version, runs, budgetBytes: budget, rows }, null, 1));
  } else {
    console.log(
      `node ${process.version}; each row in a fresh process; decode time: median of ${runs}; budget ${budget / MiB} MiB\n`,
    );
    console.log(formatTable(rows));
    console.log(
      failures === 0
        ? '\nevery statement covers its measured peak'
        : `\nFAIL: ${failures} row(s) measured above their statement`,
    );
  }
  if (failures > 0) process.exitCode = 1;
}

await main();
