/**
 * Binds classification to the image modules (worker/image: decoding; worker/preprocess: the eval transform).
 * The only file here that knows their API.
 */
import { createImageDecoder } from '../image/decode.js';
import type { ImageWasmModules } from '../image/wasm.js';
import { preprocessInto } from '../preprocess/transform.js';
import { createDecodeGate } from './decode-gate.js';
import type { Preprocessing } from '../../models/manifest.js';
import type { DecodeLimits, ImageSupport } from './pipeline.js';

export interface ImageSupportOptions {
  /**
   * Decode large JPEGs already reduced (libjpeg's DCT scaling to 1/2, 1/4 or 1/8, keeping the short side at least
   * twice the preprocessing's resize target). Default true: a 12 MP photo then fits a 128 MB isolate and decodes in a
   * fraction of the time; images with a short side under 2× the target (ImageNet-size) decode at full size, exactly
   * as PIL does. false: always full size, PIL-exact for every size.
   */
  reducedJpegDecode?: boolean;
}

export function createImageSupport(wasm: ImageWasmModules, options: ImageSupportOptions = {}): ImageSupport {
  const decoder = createImageDecoder(wasm);
  const reduced = options.reducedJpegDecode ?? true;
  return {
    // The decoder checks the pixel limit and the memory budget on the header before decoding anything.
    decode: (bytes, { maxPixels, maxDecodeBytes, resizeShortSide }) =>
      decoder.decodeImage(bytes, { maxPixels, maxDecodeBytes, ...(reduced ? { minShortSide: resizeShortSide } : {}) }),
    preprocess: preprocessInto,
    // One gate per instance: every request's images share it.
    exclusive: createDecodeGate(),
  };
}

/**
 * One image file → one model input, exactly as a classify request turns it into a batch row (the same decoder, the
 * same reduced JPEG decode, the same eval preprocessing). The toolchain's calibration and verification and
 * `npm run eval` go through here, so what they measure is what the service computes.
 */
export async function imageToInput(
  support: ImageSupport,
  bytes: Uint8Array,
  preprocessing: Preprocessing,
  out: Float32Array,
  offset: number,
  limits: DecodeLimits,
): Promise<void> {
  const image = await support.decode(bytes, { ...limits, resizeShortSide: preprocessing.resizeShortSide });
  support.preprocess(image, preprocessing, out, offset);
}
