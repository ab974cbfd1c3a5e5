/**
 * The one entry to the image modules. `probeImage` reads format and size from the header alone; `decodeImage`
 * checks the pixel limit on that header before any decoding, then returns upright RGB (EXIF orientation applied,
 * alpha dropped as PIL's convert('RGB') drops it). Given the short side the preprocessing resizes to, a large JPEG
 * is decoded already reduced (libjpeg's DCT scaling, see jpegScaleDenom); the orientation is applied after that,
 * on the small image.
 */
import { corrupt, ImageError } from './errors.js';
import { exifOrientation, swapsAxes, type Orientation } from './exif.js';
import { gifCodec, probeGif } from './gif.js';
import { createJpegCodec, jpegScaleDenom, probeJpeg } from './jpeg.js';
import { toUprightRgb } from './orientation.js';
import { pngCodec, probePng } from './png.js';
import { describeUnsupported, sniffFormat } from './sniff.js';
import type { ImageCodec, ImageFormat, ImageHeader, RgbImage } from './types.js';
import type { ImageWasmModules } from './wasm.js';
import { createWebpCodec, probeWebp } from './webp.js';

const PROBES: Readonly<Record<ImageFormat, (bytes: Uint8Array) => ImageHeader>> = {
  jpeg: probeJpeg,
  png: probePng,
  webp: probeWebp,
  gif: probeGif,
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
   * The smallest short side the caller will resize the image to (the preprocessing's resizeShortSide). When given,
   * a JPEG whose short side is at least 4× that is decoded at 1/2, 1/4 or 1/8 so that its short side stays ≥ 2×
   * this (jpegScaleDenom); the result is then smaller than the stored size. Absent: always full size.
   */
  minShortSide?: number;
}

export interface ImageDecoder {
  decodeImage(bytes: Uint8Array, options: DecodeOptions): Promise<RgbImage & { format: ImageFormat }>;
}

function readHeader(bytes: Uint8Array): { format: ImageFormat; header: ImageHeader } {
  const format = sniffFormat(bytes);
  if (!format) {
    throw new ImageError('unsupported-format', `not a JPEG, PNG, WebP or GIF image (format: ${describeUnsupported(bytes)})`);
  }
  return { format, header: PROBES[format](bytes) };
}

export function probeImage(bytes: Uint8Array): ImageInfo {
  const { format, header } = readHeader(bytes);
  const orientation = exifOrientation(header.exif);
  const swap = swapsAxes(orientation);
  return { format, width: swap ? header.height : header.width, height: swap ? header.width : header.height, orientation };
}

export function createImageDecoder(wasm: ImageWasmModules): ImageDecoder {
  const jpeg = createJpegCodec(wasm.jpeg);
  const codecs: Readonly<Record<ImageFormat, ImageCodec>> = {
    jpeg,
    png: pngCodec,
    webp: createWebpCodec(wasm.webp),
    gif: gifCodec,
  };
  return {
    async decodeImage(bytes, { maxPixels, minShortSide }) {
      const { format, header } = readHeader(bytes);
      const pixels = header.width * header.height;
      if (pixels > maxPixels) {
        throw new ImageError(
          'too-many-pixels',
          `the ${format} image is ${header.width}×${header.height} = ${pixels} pixels; the limit is ${maxPixels}`,
          { extensions: { width: header.width, height: header.height, limit: maxPixels } },
        );
      }
      // Only JPEG decodes reduced; its decoder rounds scaled sizes up, as libjpeg does.
      const scaleDenom = format === 'jpeg' ? jpegScaleDenom(header.width, header.height, minShortSide) : 1;
      const width = Math.ceil(header.width / scaleDenom);
      const height = Math.ceil(header.height / scaleDenom);
      const stored =
        format === 'jpeg'
          ? await jpeg.decode(bytes, { scaleDenom, maxOutputPixels: width * height })
          : await codecs[format].decode(bytes);
      if (stored.width !== width || stored.height !== height) {
        const scale = scaleDenom === 1 ? '' : ` (at 1/${scaleDenom}: ${width}×${height})`;
        throw corrupt(format, `decoded ${stored.width}×${stored.height}, but the header says ${header.width}×${header.height}${scale}`);
      }
      return { format, ...toUprightRgb(stored, exifOrientation(header.exif)) };
    },
  };
}
