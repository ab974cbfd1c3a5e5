/**
 * npm run bench:hostile [-- --runs N]: issue 9's crafted PNGs against a normal PNG of the same pixels, decoded by the
 * real decoder in Node (medians). "refused" rows are the work bound: the image is turned away before inflating.
 */
import { createImageDecoder } from '../../worker/image/decode.js';
import { ImageError } from '../../worker/image/errors.js';
import { loadImageWasmModules } from '../../worker/image/wasm-node.js';
import { grayPng, oneByteIdatPng, tallPng } from '../../test/helpers/hostile-png.js';
import { exitOnHelp } from '../../worker/node/cli-run.js';

exitOnHelp(import.meta.url);

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 5;
const decoder = createImageDecoder(await loadImageWasmModules());
const cases: [string, Buffer][] = [
  ['normal 1100×1100 gray (one IDAT)', grayPng(1100, 1100, 1 << 16)],
  ['1100×1100 gray, one-byte IDAT chunks', oneByteIdatPng()],
  ['1100×1100 gray, 256-byte IDAT chunks', grayPng(1100, 1100, 256)],
  ['1×7,600,000 RGBA16', tallPng()],
];
console.log(`median of ${runs} runs (ms)`);
for (const [name, bytes] of cases) {
  const times: number[] = [];
  let result = 'ok';
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    try {
      await decoder.decodeImage(bytes, { maxPixels: 16_000_000 });
    } catch (error) {
      result = error instanceof ImageError ? `refused ${error.status} ${error.code}` : String(error);
    }
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(40)} ${String(bytes.length).padStart(9)} B  ${times[runs >> 1].toFixed(1).padStart(9)}  ${result}`,
  );
}
