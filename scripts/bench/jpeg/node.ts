/**
 * Decode time and memory of wasm/jpeg (libjpeg-turbo, DCT-domain scaling) at 1/1, 1/4 and 1/8 versus
 * @jsquash/jpeg (mozjpeg, full-size RGBA only) on the large photos in ../shared/images/photos.
 *
 *   node --expose-gc --import tsx scripts/bench/jpeg/node.ts [--runs 5]
 *
 * Each decoder × file × scale runs in its own Node process (so RSS numbers do not mix), `runs` decodes in a
 * row. Per decode: wall time; peak RSS above the RSS before the first decode (VmHWM after resetting it through
 * /proc/self/clear_refs; Linux only); the decoder's wasm memory size afterwards. Reports medians and the ratio
 * to @jsquash/jpeg's median time for the same file.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createJpegDecoder, type ScaleDenom } from '../../../wasm/jpeg/index.js';
import { loadJpegWasmModule } from '../../../wasm/jpeg/node.js';
import { exitOnHelp } from '../../lib/cli.js';
import { median } from '../lib/stats.js';

exitOnHelp(import.meta.url);

const here = path.dirname(fileURLToPath(import.meta.url));
const photos = path.resolve(here, '../../../../shared/images/photos');
const FILES = ['phone-4032x3024-exif6.jpg', 'safe-landing-5120x2880.jpg'];
const CONFIGS = ['jsquash:1', 'wasm-jpeg:1', 'wasm-jpeg:4', 'wasm-jpeg:8'];

interface Sample {
  ms: number;
  peakRssDeltaMB: number;
  wasmMemoryMB: number;
  outWidth: number;
  outHeight: number;
}

function procStatusKB(field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/self/status`);
  return Number(match[1]);
}

/** One decode with memory accounting: gc, reset the peak-RSS mark, decode, read the peak. The peak is taken
 *  above the RSS before the first decode, so memory a decoder keeps between calls counts too. */
let rssBefore = NaN;
function measure(decode: () => { width: number; height: number; wasmMemoryBytes: number }): Sample {
  (globalThis as { gc?: () => void }).gc?.();
  writeFileSync('/proc/self/clear_refs', '5');
  if (Number.isNaN(rssBefore)) rssBefore = procStatusKB('VmRSS');
  const start = performance.now();
  const out = decode();
  const ms = performance.now() - start;
  const peak = procStatusKB('VmHWM');
  return {
    ms,
    peakRssDeltaMB: (peak - rssBefore) / 1024,
    wasmMemoryMB: out.wasmMemoryBytes / 2 ** 20,
    outWidth: out.width,
    outHeight: out.height,
  };
}

async function child(file: string, config: string, runs: number): Promise<Sample[]> {
  const bytes = new Uint8Array(readFileSync(path.join(photos, file)));
  const [decoderName, scale] = config.split(':');
  const samples: Sample[] = [];
  if (decoderName === 'wasm-jpeg') {
    const decoder = createJpegDecoder(await loadJpegWasmModule(), { maxOutputPixels: 32 * 2 ** 20 });
    for (let i = 0; i < runs; i++)
      samples.push(measure(() => decoder.decode(bytes, { scaleDenom: Number(scale) as ScaleDenom })));
    return samples;
  }
  // @jsquash/jpeg's Emscripten module, instantiated from the package's wasm as the worker does.
  const require = createRequire(import.meta.url);
  const { default: factory } = await import('@jsquash/jpeg/codec/dec/mozjpeg_dec.js');
  const wasm = new (WebAssembly.Module as unknown as new (b: Uint8Array) => WebAssembly.Module)(
    readFileSync(require.resolve('@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm')),
  );
  let memory: WebAssembly.Memory | undefined;
  const module = await (
    factory as unknown as (
      options: object,
    ) => Promise<{ decode(b: Uint8Array, o: boolean): { width: number; height: number } }>
  )({
    noInitialRun: true,
    instantiateWasm: (imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void) => {
      const instance = new WebAssembly.Instance(wasm, imports);
      memory = Object.values(instance.exports).find((e): e is WebAssembly.Memory => e instanceof WebAssembly.Memory);
      receive(instance);
      return instance.exports;
    },
  });
  for (let i = 0; i < runs; i++) {
    samples.push(
      measure(() => {
        const image = module.decode(bytes, false);
        return { width: image.width, height: image.height, wasmMemoryBytes: memory?.buffer.byteLength ?? NaN };
      }),
    );
  }
  return samples;
}

async function main() {
  const args = process.argv.slice(2);
  const runs = Number(args[args.indexOf('--runs') + 1] || 5) || 5;
  if (args[0] === '--child') {
    process.stdout.write(JSON.stringify(await child(args[1], args[2], runs)));
    return;
  }
  console.log(`node ${process.version}, ${runs} decodes per row, medians; each row in a fresh process\n`);
  console.log(
    'file                        decoder      scale  output      time ms  ×jsquash  peak RSS Δ MB  wasm mem MB',
  );
  for (const file of FILES) {
    let baseline = NaN;
    for (const config of CONFIGS) {
      const out = execFileSync(
        process.execPath,
        [...process.execArgv, fileURLToPath(import.meta.url), '--child', file, config, '--runs', String(runs)],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 20,
        },
      );
      const samples = JSON.parse(out) as Sample[];
      const ms = median(samples.map((s) => s.ms));
      if (config.startsWith('jsquash')) baseline = ms;
      const [decoderName, scale] = config.split(':');
      console.log(
        [
          file.padEnd(27),
          decoderName.padEnd(12),
          `1/${scale}`.padEnd(6),
          `${samples[0].outWidth}×${samples[0].outHeight}`.padEnd(11),
          ms.toFixed(0).padStart(7),
          (ms / baseline).toFixed(2).padStart(9),
          median(samples.map((s) => s.peakRssDeltaMB))
            .toFixed(1)
            .padStart(14),
          median(samples.map((s) => s.wasmMemoryMB))
            .toFixed(1)
            .padStart(12),
        ].join(' '),
      );
    }
  }
}

await main();
