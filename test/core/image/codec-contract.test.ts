/**
 * The ImageCodec contract (test/core/image/codec.cases.ts) for every format's decoder, with the wasm modules the
 * Worker imports (loaded from the package files in Node).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gifCodec, probeGif } from '../../../worker/core/image/gif.js';
import { createJpegCodec, probeJpeg } from '../../../worker/core/image/jpeg.js';
import { pngCodec, probePng } from '../../../worker/core/image/png.js';
import { loadImageWasmModules } from '../../../worker/runtimes/node/image-wasm.js';
import { createWebpCodec, probeWebp } from '../../../worker/core/image/webp.js';
import { type CodecFixture, type CodecTarget, defineCodecSuite } from './codec.cases.js';
import { repoRoot } from '../../helpers/golden.js';

const FIXTURES = path.join(repoRoot, 'test/fixtures/images');
const { fixtures } = JSON.parse(readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8')) as {
  fixtures: CodecFixture[];
};
const read = (file: string) => new Uint8Array(readFileSync(path.join(FIXTURES, file)));
const wasm = await loadImageWasmModules();

const targets: CodecTarget[] = [
  { format: 'jpeg', codec: createJpegCodec(wasm.jpeg), probe: probeJpeg, fixtures, read },
  { format: 'png', codec: pngCodec, probe: probePng, fixtures, read },
  { format: 'webp', codec: createWebpCodec(wasm.webp), probe: probeWebp, fixtures, read },
  { format: 'gif', codec: gifCodec, probe: probeGif, fixtures, read },
];

for (const target of targets) defineCodecSuite(() => target);
