/**
 * The one entry to the image modules. `probeImage` reads format and size from the header alone; `decodeImage`
 * checks the pixel limit and the memory budget on that header before any decoding, then returns upright RGB (EXIF
 * orientation applied, alpha dropped as PIL's convert('RGB') drops it). Given the short side the preprocessing
 * resizes to, a large JPEG is decoded already reduced (libjpeg's DCT scaling, see jpegScaleDenom); the orientation
 * is applied after that, on the small image.
 */
import { corrupt, ImageError } from './errors.js';
import { exifOrientation, swapsAxes, type Orientation } from './exif.js';
import { gifCodec, gifDecodeMemory, probeGif } from './gif.js';
import {
  createJpegCodec,
  jpegDecodeMemory,
  jpegScaleDenom,
  probeJpeg,
  type JpegCodec,
  type ScaleDenom,
} from './jpeg.js';
import {
  decodeMemoryBytes,
  ENGINE_OVERHEAD_BYTES,
  formatMiB,
  maxPixelsWithin,
  perOutputPixel,
  plus,
  UPRIGHT_COPY_BYTES_PER_PIXEL,
  type DecodeMemory,
} from './memory.js';
import { toUprightRgb } from './orientation.js';
import { pngCodec, pngDecodeMemory, probePng } from './png.js';
import { describeUnsupported, sniffFormat } from './sniff.js';
import type { ImageCodec, ImageFormat, ImageHeader, RgbImage } from './types.js';
import type { ImageWasmModules } from './wasm.js';
import { createWebpCodec, probeWebp, webpDecodeMemory } from './webp.js';

/** A header, and its codec's memory statement for a decode of it at 1/scaleDenom (only JPEG decodes reduced). */
interface Probed {
  header: ImageHeader;
  memory(scaleDenom: ScaleDenom): DecodeMemory;
}

/** Binds each format's probe to its memory statement, which reads the format's own header fields. */
function probed<H extends ImageHeader>(
  probe: (bytes: Uint8Array) => H,
  memory: (header: H, context: { fileBytes: number; scaleDenom: ScaleDenom }) => DecodeMemory,
): (bytes: Uint8Array) => Probed {
  return (bytes) => {
    const header = probe(bytes);
    return { header, memory: (scaleDenom) => memory(header, { fileBytes: bytes.length, scaleDenom }) };
  };
}

const PROBES: Readonly<Record<ImageFormat, (bytes: Uint8Array) => Probed>> = {
  jpeg: probed(probeJpeg, jpegDecodeMemory),
  png: probed(probePng, pngDecodeMemory),
  webp: probed(probeWebp, webpDecodeMemory),
  gif: probed(probeGif, gifDecodeMemory),
};

export interface ImageInfo {
  format: ImageFormat;
  /** Upright dimensions: what decodeImage returns (swapped from the stored ones for orientations 5–8). */
  width: number;
  height: number;
  /** EXIF orientation, 1 when absent. */
  orientation: Orientation;
}

export interface DecodeOptions {
  /** Largest width × height accepted; checked on the header (full size), before any pixel is decoded. */
  maxPixels: number;
  /**
   * Most memory the decode may take, as its codec states it from the header (decodeMemory): checked before any
   * pixel is decoded, and the JPEG decoder's wasm memory is capped at it. Absent: no budget (the JPEG decoder's
   * memory is capped at 64 MiB).
   */
  maxDecodeBytes?: number;
  /**
   * The smallest short side the caller will resize the image to (the preprocessing's resizeShortSide). When given,
   * a JPEG whose short side is at least 4× that is decoded at 1/2, 1/4 or 1/8 so that its short side stays ≥ 2×
   * this (jpegScaleDenom); the result is then smaller than the stored size. Absent: always full size.
   */
  minShortSide?: number;
}

export interface ImageDecoder {
  decodeImage(bytes: Uint8Array, options: DecodeOptions): Promise<RgbImage & { format: ImageFormat }>;
}

function readHeader(bytes: Uint8Array): Probed & { format: ImageFormat } {
  const format = sniffFormat(bytes);
  if (!format) {
    throw new ImageError(
      'unsupported-format',
      `not a JPEG, PNG, WebP or GIF image (format: ${describeUnsupported(bytes)})`,
    );
  }
  return { format, ...PROBES[format](bytes) };
}

/** How an image will be decoded, and the memory that takes: the codec's statement plus the upright copy. */
interface DecodePlan {
  format: ImageFormat;
  header: ImageHeader;
  orientation: Orientation;
  scaleDenom: ScaleDenom;
  memory: DecodeMemory;
}

function planDecode(bytes: Uint8Array, minShortSide: number | undefined): DecodePlan {
  const { format, header, memory } = readHeader(bytes);
  const orientation = exifOrientation(header.exif);
  // Only JPEG decodes reduced.
  const scaleDenom = format === 'jpeg' ? jpegScaleDenom(header.width, header.height, minShortSide) : 1;
  const stated = memory(scaleDenom);
  const upright =
    orientation === 1 ? [] : [perOutputPixel(UPRIGHT_COPY_BYTES_PER_PIXEL, header.width, header.height, scaleDenom)];
  const engine = { bytesPerPixel: 0, fixedBytes: ENGINE_OVERHEAD_BYTES };
  return { format, header, orientation, scaleDenom, memory: plus(stated, engine, ...upright) };
}

/** What decoding this image (as decodeImage would, given minShortSide) takes at its peak, from the header alone. */
export function decodeMemory(
  bytes: Uint8Array,
  options: { minShortSide?: number } = {},
): DecodeMemory & { format: ImageFormat; bytes: number } {
  const { format, header, memory } = planDecode(bytes, options.minShortSide);
  return { ...memory, format, bytes: decodeMemoryBytes(memory, header.width * header.height) };
}

export function probeImage(bytes: Uint8Array): ImageInfo {
  const { format, header } = readHeader(bytes);
  const orientation = exifOrientation(header.exif);
  const swap = swapsAxes(orientation);
  return {
    format,
    width: swap ? header.height : header.width,
    height: swap ? header.width : header.height,
    orientation,
  };
}

export interface ImageDecoderOptions {
  /** The JPEG codec to use instead of wasm/jpeg's (the Node build's native one, which gives the same pixels). */
  jpeg?: JpegCodec;
}

export function createImageDecoder(wasm: ImageWasmModules, options: ImageDecoderOptions = {}): ImageDecoder {
  const jpeg = options.jpeg ?? createJpegCodec(wasm.jpeg);
  const codecs: Readonly<Record<ImageFormat, ImageCodec>> = {
    jpeg,
    png: pngCodec,
    webp: createWebpCodec(wasm.webp),
    gif: gifCodec,
  };
  return {
    async decodeImage(bytes, { maxPixels, minShortSide, maxDecodeBytes }) {
      const { format, header, orientation, scaleDenom, memory } = planDecode(bytes, minShortSide);
      const pixels = header.width * header.height;
      const size = `the ${format} image is ${header.width}×${header.height} = ${pixels} pixels`;
      const tooLarge = (detail: string, limit: number | undefined, cause?: unknown) =>
        new ImageError('too-many-pixels', `${size}; ${detail}`, {
          details: { width: header.width, height: header.height, ...(limit === undefined ? {} : { limit }) },
          cause,
        });
      if (pixels > maxPixels) throw tooLarge(`the limit is ${maxPixels}`, maxPixels);
      const memoryLimit =
        maxDecodeBytes === undefined ? undefined : Math.min(maxPixels, maxPixelsWithin(memory, maxDecodeBytes));
      if (maxDecodeBytes !== undefined && decodeMemoryBytes(memory, pixels) > maxDecodeBytes) {
        throw tooLarge(
          `decoding it (${memory.variant}) takes up to ${formatMiB(decodeMemoryBytes(memory, pixels))}, over the ` +
            `${formatMiB(maxDecodeBytes)} decode budget; such an image can have at most ${memoryLimit} pixels`,
          memoryLimit,
        );
      }
      // The JPEG decoder rounds scaled sizes up, as libjpeg does.
      const width = Math.ceil(header.width / scaleDenom);
      const height = Math.ceil(header.height / scaleDenom);
      let stored;
      try {
        stored =
          format === 'jpeg'
            ? await jpeg.decode(bytes, { scaleDenom, maxOutputPixels: width * height, maxMemoryBytes: maxDecodeBytes })
            : await codecs[format].decode(bytes);
      } catch (error) {
        // The JPEG decoder's memory cap, reached although the statement fitted: still this image's size problem.
        if (error instanceof ImageError && error.code === 'too-many-pixels')
          throw tooLarge(error.message, memoryLimit, error);
        throw error;
      }
      if (stored.width !== width || stored.height !== height) {
        const scale = scaleDenom === 1 ? '' : ` (at 1/${scaleDenom}: ${width}×${height})`;
        throw corrupt(
          format,
          `decoded ${stored.width}×${stored.height}, but the header says ${header.width}×${header.height}${scale}`,
        );
      }
      return { format, ...toUprightRgb(stored, orientation) };
    },
  };
}
