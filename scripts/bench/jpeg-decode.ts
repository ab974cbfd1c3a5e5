/**
 * JPEG decode through the image modules, before and after the switch to wasm/jpeg, on the large photos:
 *
 *   node --expose-gc --import tsx scripts/bench/jpeg-decode.ts [--runs 3] [--json]
 *
 * Rows, each in a fresh Node process (so RSS numbers do not mix):
 * - before: the previous worker/core/image/jpeg.ts path — @jsquash/jpeg (mozjpeg, full-size RGBA) run through
 *   emscripten.ts as the codec ran it, then toUprightRgb (EXIF orientation, alpha dropped);
 * - after 1/1: decodeImage(bytes, { maxPixels }) — wasm/jpeg at full size;
 * - after, for the model: decodeImage(bytes, { maxPixels, minShortSide: 256 }) — DCT-scaled, what the service does.
 * Per row: median wall time of `runs` decodes; the first decode's peak RSS growth (VmHWM, reset through
 * /proc/self/clear_refs just before it, minus the RSS then; Linux only — later decodes would start from a heap the
 * previous result left to the garbage collector);
 * the decoder's wasm memory (before: the Emscripten heap after the decode; after: what wasm/jpeg reports for the
 * same scale); the output size. The "before" row needs @jsquash/jpeg installed and reads n/a without it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createImageDecoder } from '../../worker/core/image/decode.js';
import {
  emscriptenRunner,
  rgbaPixels,
  type DecodedImage,
  type EmscriptenFactory,
  type EmscriptenInstance,
} from '../../worker/core/image/emscripten.js';
import { exifOrientation } from '../../worker/core/image/exif.js';
import { createJpegCodec, jpegScaleDenom, probeJpeg } from '../../worker/core/image/jpeg.js';
import { toUprightRgb } from '../../worker/core/image/orientation.js';
import { loadImageWasmModules } from '../../worker/runtimes/node/image-wasm.js';
import { exitOnHelp } from '../lib/cli.js';
import { median } from './lib/stats.js';

exitOnHelp(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const PHOTOS = path.resolve(here, '../../../shared/images/photos');
const FILES = ['phone-4032x3024-exif6.jpg', 'safe-landing-5120x2880.jpg'];
const CONFIGS = ['before', 'after-1/1', 'after-model'] as const;
type Config = (typeof CONFIGS)[number];
const SHORT_SIDE = 256;
const MAX_PIXELS = 50_000_000;
const MiB = 2 ** 20;

interface Row {
  file: string;
  config: Config;
  available: boolean;
  medianMs: number;
  timesMs: number[];
  peakRssDeltaMiB: number;
  wasmMemoryMiB: number;
  output: string;
}

function procStatusKiB(field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/self/status`);
  return Number(match[1]);
}

interface Decoder {
  decode(): Promise<{ width: number; height: number }>;
  /** The decoder's wasm memory size for this file, asked after the measured decodes. */
  wasmMemoryBytes(): Promise<number>;
}

/** The previous codec's path, rebuilt from its parts; undefined when @jsquash/jpeg is not installed. */
async function beforeDecoder(bytes: Uint8Array): Promise<Decoder | undefined> {
  interface Mozjpeg extends EmscriptenInstance {
    decode(data: BufferSource, preserveOrientation: boolean): DecodedImage | null;
  }
  let factory: EmscriptenFactory<Mozjpeg>;
  let wasmFile: string;
  try {
    const require = createRequire(import.meta.url);
    wasmFile = require.resolve('@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm');
    // A specifier in a variable: once the package is removed, this still type-checks and the row reads n/a.
    const glue: string = '@jsquash/jpeg/codec/dec/mozjpeg_dec.js';
    factory = ((await import(glue)) as { default: unknown }).default as EmscriptenFactory<Mozjpeg>;
  } catch {
    return undefined;
  }
  const wasm = new (WebAssembly.Module as unknown as new (b: Uint8Array) => WebAssembly.Module)(readFileSync(wasmFile));
  const run = emscriptenRunner(factory, wasm);
  const orientation = exifOrientation(probeJpeg(bytes).exif);
  let heap = 0;
  return {
    async decode() {
      const outcome = await run((module) => {
        const image = module.decode(bytes, false);
        heap = module.HEAPU8.length;
        return image;
      });
      if (!outcome.ok || !outcome.value) throw new Error(`mozjpeg failed: ${outcome.messages.join('; ')}`);
      return toUprightRgb(rgbaPixels(outcome.value), orientation);
    },
    wasmMemoryBytes: async () => heap,
  };
}

async function afterDecoder(bytes: Uint8Array, forModel: boolean): Promise<Decoder> {
  const wasm = await loadImageWasmModules();
  const decoder = createImageDecoder(wasm);
  const options = forModel ? { maxPixels: MAX_PIXELS, minShortSide: SHORT_SIDE } : { maxPixels: MAX_PIXELS };
  return {
    decode: () => decoder.decodeImage(bytes, options),
    // decodeImage does not expose the decoder's memory; the codec reports it for the same scale (deterministic).
    async wasmMemoryBytes() {
      const header = probeJpeg(bytes);
      const scaleDenom = forModel ? jpegScaleDenom(header.width, header.height, SHORT_SIDE) : 1;
      return (await createJpegCodec(wasm.jpeg).decode(bytes, { scaleDenom })).decoderMemoryBytes;
    },
  };
}

async function child(file: string, config: Config, runs: number): Promise<Row> {
  const bytes = new Uint8Array(readFileSync(path.join(PHOTOS, file)));
  const decoder =
    config === 'before' ? await beforeDecoder(bytes) : await afterDecoder(bytes, config === 'after-model');
  const row: Row = {
    file,
    config,
    available: !!decoder,
    medianMs: NaN,
    timesMs: [],
    peakRssDeltaMiB: NaN,
    wasmMemoryMiB: NaN,
    output: '',
  };
  if (!decoder) return row;
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  for (let i = 0; i < runs; i++) {
    gc();
    writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
    const rssBefore = procStatusKiB('VmRSS');
    const start = performance.now();
    const out = await decoder.decode();
    row.timesMs.push(performance.now() - start);
    if (i === 0) row.peakRssDeltaMiB = (procStatusKiB('VmHWM') - rssBefore) / 1024;
    row.output = `${out.width}×${out.height}`;
  }
  row.wasmMemoryMiB = (await decoder.wasmMemoryBytes()) / MiB;
  row.medianMs = median(row.timesMs);
  return row;
}

async function main() {
  const args = process.argv.slice(2);
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 3;
  if (!(Number.isInteger(runs) && runs >= 1)) throw new Error('--runs must be a positive integer');
  if (args[0] === '--child') {
    process.stdout.write(JSON.stringify(await child(args[1], args[2] as Config, runs)));
    return;
  }
  const rows: Row[] = [];
  for (const file of FILES) {
    for (const config of CONFIGS) {
      const out = execFileSync(
        process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url), '--child', file, config, '--runs', String(runs)],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 20,
        },
      );
      rows.push(JSON.parse(out) as Row);
    }
  }
  if (args.includes('--json')) {
    console.log(JSON.stringify({ node: process.version, runs, rows }, null, 1));
    return;
  }
  console.log(`node ${process.version}, ${runs} decodes per row (median time), each row in a fresh process\n`);
  console.log(
    'file                        path          output      time ms  ×before  1st peak RSS Δ MiB  ×before  wasm MiB',
  );
  for (const file of FILES) {
    const before = rows.find((r) => r.file === file && r.config === 'before')!;
    for (const row of rows.filter((r) => r.file === file)) {
      const ratio = (value: number, base: number) => (before.available ? (value / base).toFixed(2) : 'n/a');
      console.log(
        [
          file.padEnd(27),
          row.config.padEnd(13),
          (row.available ? row.output : 'n/a').padEnd(11),
          row.medianMs.toFixed(0).padStart(7),
          ratio(row.medianMs, before.medianMs).padStart(8),
          row.peakRssDeltaMiB.toFixed(1).padStart(19),
          ratio(row.peakRssDeltaMiB, before.peakRssDeltaMiB).padStart(8),
          row.wasmMemoryMiB.toFixed(1).padStart(9),
        ].join(' '),
      );
    }
  }
}

await main();
