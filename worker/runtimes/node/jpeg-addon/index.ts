/**
 * Node only: the native JPEG decoder and preprocessing (addon.c, built by `npm run build:native` into
 * build/jpeg.node). Same calls and same bytes as wasm/jpeg's decoder and worker/core/preprocess's resize; the native
 * decoder is the system's libjpeg-turbo with its SIMD, the resize compiled C — about a quarter of the CPU per image.
 *
 * Optional: where the add-on was not built (no C compiler, Node headers or libjpeg headers on the machine),
 * `loadJpegAddon` says why and the Node build decodes with wasm.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { type DecodedJpeg, JpegDecodeError, type JpegErrorCode } from '../../../../wasm/jpeg/index.js';
import { jpegCodecOver, type JpegCodec, type JpegPixelDecoder } from '../../../core/image/jpeg.js';
import type { Preprocessing } from '../../../core/manifest/manifest.js';
import type { RgbImage } from '../../../core/image/types.js';
import { planPreprocess, type PreprocessInto } from '../../../core/preprocess/transform.js';

export const ADDON_PATH = fileURLToPath(new URL('./build/jpeg.node', import.meta.url));

/** What addon.c exports. */
export interface JpegAddon {
  /** The libjpeg-turbo version it was compiled against (2.1.5 → 2001005; 0: not libjpeg-turbo). */
  libjpegTurboVersion: number;
  decode(
    bytes: Uint8Array,
    scaleDenom: number,
    maxOutputPixels: number,
    maxMemoryBytes: number,
  ): {
    width: number;
    height: number;
    channels: 1 | 3 | 4;
    /** J_COLOR_SPACE: 1 gray, 2 RGB, 4 CMYK. */
    colorSpace: number;
    adobe: number;
    warnings: number;
    data: ArrayBuffer;
  };
  preprocess(
    rgb: Uint8Array,
    width: number,
    height: number,
    outWidth: number,
    outHeight: number,
    x: number,
    y: number,
    cropWidth: number,
    cropHeight: number,
    red: Float32Array,
    green: Float32Array,
    blue: Float32Array,
    out: Float32Array,
    offset: number,
  ): void;
}

export type AddonLoad = { ok: true; addon: JpegAddon } | { ok: false; reason: string };

let loaded: AddonLoad | undefined;

/** Loads build/jpeg.node once; `{ ok: false, reason }` when it is not built or does not load. */
export function loadJpegAddon(): AddonLoad {
  if (loaded) return loaded;
  if (!existsSync(ADDON_PATH)) {
    loaded = { ok: false, reason: `the native decoder is not built (${ADDON_PATH}; run npm run build:native)` };
    return loaded;
  }
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as JpegAddon;
    loaded = { ok: true, addon };
  } catch (error) {
    loaded = { ok: false, reason: `the native decoder does not load: ${(error as Error).message}` };
  }
  return loaded;
}

/** decoder.c's failure kinds, as wasm/jpeg/index.ts maps them. */
const KINDS: Record<number, JpegErrorCode> = { 1: 'corrupt-image', 2: 'unsupported-format', 3: 'image-too-large' };
const COLOR_SPACES: Record<number, DecodedJpeg['colorSpace']> = { 1: 'gray', 2: 'rgb', 4: 'cmyk' };
const DEFAULT_MAX_OUTPUT_PIXELS = 16 * 1024 * 1024;
const DEFAULT_MAX_MEMORY_BYTES = 64 * 1024 * 1024;

/** The add-on as a libjpeg decoder: wasm/jpeg's decode() contract (errors as JpegDecodeError). */
export function nativeJpegDecoder(addon: JpegAddon): JpegPixelDecoder {
  return {
    decode(bytes, options = {}) {
      let result: ReturnType<JpegAddon['decode']>;
      try {
        result = addon.decode(
          bytes,
          options.scaleDenom ?? 1,
          options.maxOutputPixels ?? DEFAULT_MAX_OUTPUT_PIXELS,
          options.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES,
        );
      } catch (error) {
        const { kind, libjpegCode, message } = error as Error & { kind?: number; libjpegCode?: number };
        const code = kind === undefined ? undefined : KINDS[kind];
        if (!code) throw error;
        throw new JpegDecodeError(code, message, libjpegCode || undefined, { cause: error });
      }
      const colorSpace = COLOR_SPACES[result.colorSpace];
      if (!colorSpace) throw new Error(`JPEG add-on produced unexpected color space ${result.colorSpace}`);
      return {
        width: result.width,
        height: result.height,
        channels: result.channels,
        colorSpace,
        adobe: result.adobe !== 0,
        warnings: result.warnings,
        data: new Uint8Array(result.data),
        // Its memory is the process heap's, not a wasm memory's.
        wasmMemoryBytes: 0,
      };
    },
  };
}

/** The JPEG codec (worker/core/image/jpeg.ts) over the add-on. */
export function nativeJpegCodec(addon: JpegAddon): JpegCodec {
  return jpegCodecOver(nativeJpegDecoder(addon));
}

/** preprocessInto with the resize in C: the same checks and plan, the same output to the bit. */
export function nativePreprocess(addon: JpegAddon): PreprocessInto {
  return (image: RgbImage, preprocessing: Preprocessing, out: Float32Array, offset: number) => {
    const { width, height, region, tables } = planPreprocess(image, preprocessing, out, offset);
    addon.preprocess(
      image.data,
      image.width,
      image.height,
      width,
      height,
      region.x,
      region.y,
      region.width,
      region.height,
      tables[0],
      tables[1],
      tables[2],
      out,
      offset,
    );
  };
}
