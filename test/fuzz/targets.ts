/**
 * Fuzz targets: each takes untrusted bytes through the code the product runs on them, and classifies the
 * outcome. The contract: a result, or the module's own typed error (ImageError, CheckpointError); anything else —
 * a TypeError, a RangeError, a wasm trap, a plain Error — is a bug. Used by `npm run fuzz` (scripts/fuzz.ts) and by
 * the corpus replay in `npm test` (test/fuzz/corpus.test.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IMAGENET_PREPROCESSING } from '../../worker/core/manifest/manifest.js';
import { CheckpointError, readCheckpoint } from '../../models/toolchain/checkpoint/index.js';
import { createImageSupport, type ImageCodec } from '../../worker/core/model-input/image-input.js';
import { ImageError } from '../../worker/core/image/errors.js';
import { sniffFormat } from '../../worker/core/image/sniff.js';
import { loadImageWasmModules } from '../../worker/runtimes/node/image-wasm.js';
import { inputElements } from '../../worker/core/preprocess/transform.js';
import { float32Bytes, safetensorsFile, stateDictPickle, torchZip } from '../helpers/pickle.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CORPUS_DIR = path.resolve(here, '../fixtures/fuzz-corpus');
const IMAGE_FIXTURES = path.resolve(here, '../fixtures/images');

/** What one input did: `ok`, an expected error's code, or `unexpected` with the error (a bug). */
export type Outcome =
  | { kind: 'ok' /** Pixels decoded, for images: what their time is judged against. */; pixels?: number }
  | { kind: 'expected'; code: string }
  | { kind: 'unexpected'; error: unknown };

export interface FuzzTarget {
  name: string;
  /** Seed inputs the mutations start from. */
  seeds(): Uint8Array[];
  run(bytes: Uint8Array): Promise<Outcome>;
}

/** The service's defaults (worker/service/config.ts): 16 MP, a 40 MiB decode budget, the ImageNet preprocessing. */
const IMAGE_LIMITS = { maxPixels: 16_000_000, maxDecodeBytes: 40 * 1024 * 1024 };

let support: Promise<ImageCodec> | undefined;

/** Sniff, probe, decode (with the service's limits and reduced JPEG decode) and preprocess, as a classify request. */
async function classifyImage(bytes: Uint8Array): Promise<Outcome> {
  support ??= loadImageWasmModules().then((wasm) => createImageSupport(wasm));
  const images = await support;
  try {
    const image = await images.decode(bytes, {
      ...IMAGE_LIMITS,
      resizeShortSide: IMAGENET_PREPROCESSING.resizeShortSide,
    });
    images.preprocess(image, IMAGENET_PREPROCESSING, new Float32Array(inputElements(IMAGENET_PREPROCESSING)), 0);
    return { kind: 'ok', pixels: image.width * image.height };
  } catch (error) {
    if (error instanceof ImageError) return { kind: 'expected', code: error.code };
    return { kind: 'unexpected', error };
  }
}

function imageSeeds(format: string): Uint8Array[] {
  return readdirSync(IMAGE_FIXTURES, { withFileTypes: true })
    .filter((entry) => entry.isFile() && !entry.name.endsWith('.json') && !entry.name.includes('huge'))
    .map((entry) => entry.name)
    .map((file) => new Uint8Array(readFileSync(path.join(IMAGE_FIXTURES, file))))
    .filter((bytes) => sniffFormat(bytes) === format && bytes.length <= 256 * 1024);
}

const imageTarget = (format: string): FuzzTarget => ({
  name: format,
  seeds: () => imageSeeds(format),
  run: classifyImage,
});

/** Small checkpoints of each format and layout the reader accepts: the mutations start from valid files. */
function checkpointSeeds(): Uint8Array[] {
  const tensors = [
    { name: 'a.weight', storageType: 'FloatStorage', key: '0', numel: 6, size: [2, 3] },
    { name: 'a.bias', storageType: 'FloatStorage', key: '1', numel: 2, size: [2] },
  ];
  const records = { '0': float32Bytes([1, 2, 3, 4, 5, 6]), '1': float32Bytes([0.5, -0.5]) };
  const safetensors = safetensorsFile(
    {
      'a.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
      'a.bias': { dtype: 'F16', shape: [2], data_offsets: [24, 28] },
      __metadata__: { format: 'pt' },
    },
    Uint8Array.from([...float32Bytes([1, 2, 3, 4, 5, 6]), 0x00, 0x3c, 0x00, 0xbc]),
  );
  return [
    torchZip(stateDictPickle(tensors), records),
    torchZip(stateDictPickle(tensors), records, { deflate: true, byteorder: 'little' }),
    safetensors,
  ];
}

const checkpointTarget: FuzzTarget = {
  name: 'checkpoint',
  seeds: checkpointSeeds,
  async run(bytes) {
    try {
      readCheckpoint(bytes);
      return { kind: 'ok' };
    } catch (error) {
      if (error instanceof CheckpointError) return { kind: 'expected', code: error.code };
      return { kind: 'unexpected', error };
    }
  },
};

export const TARGETS: readonly FuzzTarget[] = [
  imageTarget('jpeg'),
  imageTarget('png'),
  imageTarget('gif'),
  imageTarget('webp'),
  checkpointTarget,
];

/** The committed inputs of a target's regression corpus (test/fixtures/fuzz-corpus/<target>/). */
export function corpusFiles(target: string): string[] {
  const dir = path.join(CORPUS_DIR, target);
  try {
    return readdirSync(dir)
      .filter((file) => !file.startsWith('.') && !file.endsWith('.md'))
      .sort()
      .map((file) => path.join(dir, file));
  } catch {
    return [];
  }
}
