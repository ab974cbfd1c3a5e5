/**
 * Random single-bit flips of the M0 fixtures through the converter (issue 9, item 7's "random bit flips"):
 *
 *   npx tsx scripts/bench/checkpoint-flips.ts [ROOT] [FLIPS]     (ROOT: a checkout, default this one; FLIPS: 200)
 *
 * For each fixture, FLIPS copies with one random bit flipped (fixed seed) go through ROOT's convert (for checkouts
 * from before models/toolchain/convert.ts: read, validate, export, unchecked); refusals are counted by code, and
 * for accepted models the max |Δlogit| against the unflipped model on one synthetic input.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitOnHelp } from '../lib/cli.js';

exitOnHelp(import.meta.url);

type Convert = (bytes: Uint8Array, options: { variant: 'm0' }) => Promise<{ onnx: Uint8Array }>;

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(process.argv[2] ?? path.join(here, '../..'));
const flips = Number(process.argv[3] ?? 200);
const fixtures = path.resolve(here, '../../../shared/fixtures/checkpoints');

async function loadConvert(): Promise<Convert> {
  try {
    return (await import(path.join(root, 'models/toolchain/convert.ts'))).convertCheckpoint as Convert;
  } catch {
    const { readCheckpoint } = await import(path.join(root, 'models/toolchain/checkpoint/index.ts'));
    const { validateStateDict } = await import(path.join(root, 'models/efficientvit.ts'));
    const { exportOnnx } = await import(path.join(root, 'models/toolchain/export/index.ts'));
    return async (bytes, { variant }) => ({
      onnx: exportOnnx(validateStateDict(readCheckpoint(bytes).stateDict, variant), variant, { graph: 'optimized' }),
    });
  }
}

async function main(): Promise<void> {
  const convert = await loadConvert();
  const { createOrtNodeBackend } = await import(path.join(root, 'worker/runtimes/node/inference/ort-node.ts'));
  const { syntheticInputs } = await import(path.join(root, 'models/toolchain/build.ts'));
  const backend = createOrtNodeBackend({ threads: 1 });
  const [input] = syntheticInputs(1) as Float32Array[];
  const logits = async (onnx: Uint8Array): Promise<Float32Array> => {
    const session = await backend.load(onnx);
    const { data } = await session.run(input, [1, 3, 224, 224]);
    await session.release();
    return data;
  };
  let seed = 12345;
  const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (const name of ['efficientvit_m0.synthetic.pth', 'efficientvit_m0.synthetic.timm.safetensors']) {
    const bytes = new Uint8Array(readFileSync(path.join(fixtures, name)));
    const base = await logits((await convert(bytes, { variant: 'm0' })).onnx);
    const refused = new Map<string, number>();
    let accepted = 0;
    let off = 0;
    let worst = 0;
    for (let i = 0; i < flips; i++) {
      const flipped = bytes.slice();
      flipped[Math.floor(random() * flipped.length)] ^= 1 << Math.floor(random() * 8);
      try {
        const out = await logits((await convert(flipped, { variant: 'm0' })).onnx);
        let delta = 0;
        // NaN counts as infinitely off.
        for (let k = 0; k < out.length; k++)
          delta = Math.max(delta, Number.isNaN(out[k]) ? Infinity : Math.abs(out[k] - base[k]));
        accepted++;
        if (delta > 1e-3) off++;
        worst = Math.max(worst, delta);
      } catch (error) {
        const code = (error as { code?: string }).code ?? (error as Error).name;
        refused.set(code, (refused.get(code) ?? 0) + 1);
      }
    }
    console.log(
      `${name}: ${flips} flips, ${accepted} accepted (${off} off by > 1e-3, worst ${worst.toPrecision(3)}), refused ${JSON.stringify(Object.fromEntries(refused))}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
