/**
 * JPEG. The header is read here (markers up to the frame header, collecting the EXIF APP1 segment); pixels come from
 * wasm/jpeg, libjpeg-turbo 2.1.5 compiled to WebAssembly with libjpeg's defaults (ISLOW IDCT, fancy upsampling), as
 * PIL uses them: at full size the pixels equal PIL's and sharp's. Only this file knows which decoder runs.
 *
 * DCT-domain scaling: libjpeg can decode at 1/2, 1/4 or 1/8 straight from the coefficients, never holding the
 * full-size image (a 12 MP photo at 1/4: 4.4 MB of wasm memory and a 2.3 MB result, instead of 36 MB of RGB). The
 * scale is chosen by `jpegScaleDenom` from what the preprocessing needs.
 *
 * Colour: YCbCr/RGB files come out as RGB; grayscale is replicated to RGB and CMYK/YCCK converted to RGB, both as
 * PIL's convert('RGB') does (see cmykToRgb). No ICC conversion, as in PIL.
 *
 * Refused before decoding (unsupported-format): 12/16-bit samples, lossless and hierarchical JPEG, component counts
 * other than 1, 3 and 4, and DNL-sized frames. Truncated files are corrupt-image: libjpeg would pad them with gray
 * and warn, PIL raises "image file is truncated"; the decoder rejects them as PIL does.
 */
import {
  createJpegDecoder,
  JpegDecodeError,
  type DecodedJpeg,
  type JpegDecoder,
  type ScaleDenom,
} from '../../../wasm/jpeg/index.js';
import { corrupt, ImageError, unsupported } from './errors.js';
import { MiB, perOutputPixel, plus, type DecodeMemory } from './memory.js';
import type { ImageCodec, ImageHeader, StoredPixels } from './types.js';
import { MAX_METADATA_BLOCKS, tooManyBlocks } from './work.js';

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const APP1 = 0xe1;
/** Frame headers, by marker: SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC). */
const FRAME_KINDS: Record<number, string> = {
  0xc0: 'baseline',
  0xc1: 'extended sequential',
  0xc2: 'progressive',
  0xc3: 'lossless',
  0xc5: 'differential sequential',
  0xc6: 'differential progressive',
  0xc7: 'differential lossless',
  0xc9: 'arithmetic sequential',
  0xca: 'arithmetic progressive',
  0xcb: 'arithmetic lossless',
  0xcd: 'differential arithmetic sequential',
  0xce: 'differential arithmetic progressive',
  0xcf: 'differential arithmetic lossless',
};
/** What libjpeg-turbo 2.1.5 decodes: the DCT processes, Huffman or arithmetic coded, not lossless or hierarchical. */
const DECODABLE_FRAMES = new Set([0xc0, 0xc1, 0xc2, 0xc9, 0xca]);
const EXIF_HEADER = [0x45, 0x78, 0x69, 0x66, 0, 0]; // "Exif\0\0"

/** Frame headers whose scans are progressive: libjpeg holds every coefficient of the image for them. */
const PROGRESSIVE_FRAMES = new Set([0xc2, 0xca]);

/** A component's sampling factors (1–4 each). */
export interface JpegSampling {
  h: number;
  v: number;
}

/** The JPEG header: what the probe reads, plus what the decode's memory depends on. */
export interface JpegFileHeader extends ImageHeader {
  progressive: boolean;
  /** Sampling factors per component, from the frame header. */
  components: JpegSampling[];
  /** Components in the first scan; undefined when the file ends before it. */
  firstScanComponents?: number;
}

type Frame = Omit<JpegFileHeader, 'exif' | 'firstScanComponents'>;

/** Validates a frame header (SOFn segment) and returns the image size and layout it declares. */
function readFrame(marker: number, segment: Uint8Array): Frame {
  const kind = FRAME_KINDS[marker];
  if (segment.length < 6) throw corrupt('JPEG', 'truncated frame header');
  const precision = segment[0];
  const height = (segment[1] << 8) | segment[2];
  const width = (segment[3] << 8) | segment[4];
  const components = segment[5];
  if (!DECODABLE_FRAMES.has(marker)) throw unsupported('JPEG', `${kind} JPEG`);
  if (precision !== 8) throw unsupported('JPEG', `${precision}-bit samples`);
  if (components !== 1 && components !== 3 && components !== 4)
    throw unsupported('JPEG', `${components}-component JPEG`);
  if (height === 0) throw unsupported('JPEG', 'height defined by a DNL marker');
  if (width === 0) throw corrupt('JPEG', 'zero width');
  // A factor that is missing or invalid (libjpeg refuses those) is taken as 1: full resolution, the most memory.
  const factor = (value: number | undefined) => (value && value >= 1 && value <= 4 ? value : 1);
  const sampling = (c: number) => ({ h: factor(segment[7 + 3 * c] >> 4), v: factor(segment[7 + 3 * c] & 15) });
  return {
    width,
    height,
    progressive: PROGRESSIVE_FRAMES.has(marker),
    components: Array.from({ length: components }, (_, c) => sampling(c)),
  };
}

/**
 * Walks the marker segments up to the first scan: the frame header gives the size, the first APP1 "Exif" segment
 * the EXIF block (PIL, too, takes the first one, wherever it is before the scan).
 */
export function probeJpeg(bytes: Uint8Array): JpegFileHeader {
  if (bytes[0] !== 0xff || bytes[1] !== SOI) throw corrupt('JPEG', 'no start-of-image marker');
  let frame: Frame | undefined;
  let exif: Uint8Array | undefined;
  let offset = 2;
  let segments = 0;
  // The header ends at the scan, or where the file does (the rest is not the probe's business).
  const headerEnd = (firstScanComponents?: number): JpegFileHeader => {
    if (frame) return { ...frame, exif, firstScanComponents };
    throw corrupt('JPEG', 'no frame header before the image data');
  };
  for (;;) {
    // Like libjpeg, skip any bytes before the next 0xFF and any 0xFF fill bytes.
    while (offset < bytes.length && bytes[offset] !== 0xff) offset++;
    while (offset < bytes.length && bytes[offset] === 0xff) offset++;
    if (offset >= bytes.length) return headerEnd();
    const marker = bytes[offset++];
    // The scan header's first byte after its length is its component count.
    if (marker === SOS) return headerEnd(offset + 2 < bytes.length ? bytes[offset + 2] : undefined);
    if (marker === EOI) return headerEnd();
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // markers without a segment
    if (offset + 2 > bytes.length) return headerEnd();
    if (++segments > MAX_METADATA_BLOCKS) throw tooManyBlocks('JPEG', 'marker segments before the first scan');
    const length = (bytes[offset] << 8) | bytes[offset + 1];
    if (length < 2) throw corrupt('JPEG', `invalid length of marker 0x${marker.toString(16)}`);
    if (offset + length > bytes.length) return headerEnd();
    const segment = bytes.subarray(offset + 2, offset + length);
    if (marker === APP1 && !exif && EXIF_HEADER.every((value, i) => segment[i] === value)) {
      exif = segment.subarray(EXIF_HEADER.length);
    }
    if (FRAME_KINDS[marker] && !frame) frame = readFrame(marker, segment);
    offset += length;
  }
}

export type { ScaleDenom };

/**
 * The DCT scale to decode a width×height JPEG at, given the smallest short side the preprocessing resizes to:
 * the largest 1/N (N = 1, 2, 4, 8) whose decoded short side is still at least twice `minShortSide`.
 *
 * Why 2×: the preprocessing's bicubic resize antialiases (its filter widens with the shrink factor), so from an
 * input at least twice the target it still averages over ≥ 2 source pixels per output pixel, the regime where the
 * result no longer depends much on how the input was reduced. Below 2× the DCT's own reduction (a reduced IDCT,
 * close to a box filter) would dominate. ImageNet-size images (short side < 512 for a 256 resize) always decode at
 * 1/1, so their pixels — and the golden preprocessing parity — stay bit-exact. A 12 MP photo (short side 3024)
 * decodes at 1/4 (756), a 2560×1600 one at 1/2 (800).
 */
export function jpegScaleDenom(width: number, height: number, minShortSide: number | undefined): ScaleDenom {
  if (minShortSide === undefined || !(minShortSide > 0)) return 1;
  const shortSide = Math.min(width, height);
  for (const denom of [8, 4, 2] as const) {
    // libjpeg rounds scaled sizes up.
    if (Math.ceil(shortSide / denom) >= 2 * minShortSide) return denom;
  }
  return 1;
}

/** wasm/jpeg's memory before any allocation (build.sh: --initial-memory=1048576): static data, stack, first heap. */
const WASM_INITIAL_BYTES = 1 * MiB;
/**
 * libjpeg's tables, state and row buffers besides the coefficients, and the 256 KiB row batch: counted as 1 MiB plus
 * 16 bytes per output sample of a row. Measured (widths 256–16000; 4:2:0, 4:4:4, grayscale, CMYK; every scale), they
 * all fit in the initial memory's free part, so this is margin that keeps wider images covered.
 */
const LIBJPEG_FIXED_BYTES = 1 * MiB;
const LIBJPEG_BYTES_PER_ROW_SAMPLE = 16;
/** A DCT block's coefficients: 64 × 16 bits. */
const COEFFICIENT_BLOCK_BYTES = 128;

function samplingName(components: readonly JpegSampling[]): string {
  if (components.length === 1) return 'grayscale';
  const [y, ...chroma] = components;
  const same = chroma.every((c) => c.h === 1 && c.v === 1);
  const common: Record<string, string> = {
    '1x1': '4:4:4',
    '2x1': '4:2:2',
    '2x2': '4:2:0',
    '1x2': '4:4:0',
    '4x1': '4:1:1',
  };
  const name = (same && common[`${y.h}x${y.v}`]) || components.map((c) => `${c.h}x${c.v}`).join(' ');
  return components.length === 4 ? `CMYK ${name}` : name;
}

/**
 * Decode memory, from the header, for a decode at 1/scaleDenom: in the decoder's wasm memory, its initial memory, a
 * copy of the file, libjpeg's buffers (fixed, plus a few rows of the output width) and — for progressive and other
 * multi-scan files — every DCT coefficient of the full-size image (2 bytes per sample of each component, whatever
 * the scale: 3 bytes per pixel for 4:2:0, 6 for 4:4:4); outside it, the decoded rows (1, 3 or 4 bytes per output
 * pixel) and, for grayscale and CMYK, their RGB conversion (3 more).
 */
export function jpegDecodeMemory(
  header: JpegFileHeader,
  { fileBytes, scaleDenom }: { fileBytes: number; scaleDenom: ScaleDenom },
): DecodeMemory {
  const { width, height, components } = header;
  // libjpeg buffers the whole image's coefficients when the first scan does not hold every component (jdinput.c).
  const multiScan = header.progressive || (header.firstScanComponents ?? 0) < components.length;
  const hMax = Math.max(...components.map((c) => c.h));
  const vMax = Math.max(...components.map((c) => c.v));
  let coefficientBytes = 0;
  let coefficientsPerPixel = 0;
  if (multiScan) {
    for (const { h, v } of components) {
      // jdcoefct.c: width/height in blocks, rounded up to the component's sampling factor.
      const blocksWide = Math.ceil(Math.ceil((width * h) / (8 * hMax)) / h) * h;
      const blocksHigh = Math.ceil(Math.ceil((height * v) / (8 * vMax)) / v) * v;
      coefficientBytes += blocksWide * blocksHigh * COEFFICIENT_BLOCK_BYTES;
      coefficientsPerPixel += ((h * v) / (hMax * vMax)) * (COEFFICIENT_BLOCK_BYTES / 64);
    }
  }
  const channels = components.length;
  const outputWidth = Math.ceil(width / scaleDenom);
  const scan = header.progressive ? 'progressive' : multiScan ? 'multi-scan' : 'baseline';
  const memory: DecodeMemory = {
    variant: `${scan} JPEG ${samplingName(components)}${scaleDenom > 1 ? ` decoded at 1/${scaleDenom}` : ''}`,
    bytesPerPixel: coefficientsPerPixel,
    fixedBytes:
      WASM_INITIAL_BYTES +
      fileBytes +
      LIBJPEG_FIXED_BYTES +
      LIBJPEG_BYTES_PER_ROW_SAMPLE * outputWidth * channels +
      (coefficientBytes - coefficientsPerPixel * width * height),
  };
  return plus(memory, perOutputPixel(channels + (channels === 3 ? 0 : 3), width, height, scaleDenom));
}

/** Pillow's MULDIV255: a·b/255 rounded, with its exact integer steps. */
function mulDiv255(a: number, b: number): number {
  const tmp = a * b + 128;
  return ((tmp >> 8) + tmp) >> 8;
}

/**
 * CMYK as stored in the file → RGB, as PIL does it. PIL opens every 4-component JPEG as rawmode "CMYK;I" ("assume
 * adobe conventions", JpegImagePlugin, whether or not the file has an Adobe marker), i.e. it inverts the stored
 * samples; convert('RGB') then runs Convert.c's cmyk2rgb: nk = 255 − k, out = nk − MULDIV255(c, nk). Applying both:
 * with stored samples C K, c = 255 − C and nk = K.
 */
export function cmykToRgb(cmyk: Uint8Array, pixels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  for (let s = 0, d = 0; d < rgb.length; s += 4, d += 3) {
    const nk = cmyk[s + 3];
    rgb[d] = nk - mulDiv255(255 - cmyk[s], nk);
    rgb[d + 1] = nk - mulDiv255(255 - cmyk[s + 1], nk);
    rgb[d + 2] = nk - mulDiv255(255 - cmyk[s + 2], nk);
  }
  return rgb;
}

/** Grayscale → RGB, as PIL's convert('RGB') of an "L" image: the value in all three channels. */
function grayToRgb(gray: Uint8Array, pixels: number): Uint8Array {
  const rgb = new Uint8Array(pixels * 3);
  for (let s = 0, d = 0; s < pixels; s++, d += 3) rgb[d] = rgb[d + 1] = rgb[d + 2] = gray[s];
  return rgb;
}

function toStoredRgb(decoded: DecodedJpeg): StoredPixels {
  const { width, height, data } = decoded;
  const pixels = width * height;
  if (decoded.colorSpace === 'rgb') return { width, height, channels: 3, data };
  if (decoded.colorSpace === 'gray') return { width, height, channels: 3, data: grayToRgb(data, pixels) };
  return { width, height, channels: 3, data: cmykToRgb(data, pixels) };
}

/**
 * The decoder's error codes as the API's: unsupported-format and corrupt-image as they are; image-too-large
 * (the decoder's memory cap, its output limit, or libjpeg's dimension limits) as too-many-pixels 413 — the image
 * is too large to decode here — except the scan limit: more than 100 scans is a file no real encoder writes, built
 * to make the decoder loop, so corrupt-image 422.
 */
function toImageError(error: unknown): unknown {
  if (!(error instanceof JpegDecodeError)) return error;
  const detail = `libjpeg: ${error.message}`;
  switch (error.code) {
    case 'unsupported-format':
      return new ImageError('unsupported-format', `unsupported JPEG variant: ${detail}`, { cause: error });
    case 'corrupt-image':
      return corrupt('JPEG', detail, error);
    case 'image-too-large':
      if (/too many scans/.test(error.message)) return corrupt('JPEG', detail, error);
      return new ImageError('too-many-pixels', `the JPEG image is too large to decode: ${detail}`, { cause: error });
  }
}

/** The decoder's wasm memory cap when the caller gives none: enough for a 20 MP progressive 4:2:0 file. */
const DEFAULT_MAX_MEMORY_BYTES = 64 * MiB;
/** The most a wasm32 memory can be; per-call caps are clamped to it. */
const WASM32_MAX_MEMORY_BYTES = 4 * 1024 * MiB;

export interface JpegDecodeOptions {
  /** Decode at 1/scaleDenom of the stored size (see jpegScaleDenom). Default 1. */
  scaleDenom?: ScaleDenom;
  /**
   * Cap on the decoder's wasm memory (the file's copy and libjpeg's buffers, coefficients included) for this decode;
   * past it the decode fails with too-many-pixels. Default 64 MiB. Callers pass their decode budget.
   */
  maxMemoryBytes?: number;
  /** Largest decoded width × height accepted; the caller sets it from the header it already checked, so a file
   *  whose libjpeg-read size disagrees with the probe cannot allocate more. */
  maxOutputPixels?: number;
}

/** RGB pixels, plus the size the decoder's wasm memory reached, for monitoring. */
export type DecodedJpegPixels = StoredPixels & { decoderMemoryBytes: number };

export interface JpegCodec extends ImageCodec {
  decode(bytes: Uint8Array, options?: JpegDecodeOptions): Promise<DecodedJpegPixels>;
}

/**
 * What a JPEG codec runs: libjpeg with its defaults, returning pixels as libjpeg outputs them and throwing
 * JpegDecodeError. wasm/jpeg's decoder, or the Node build's native add-on over the system's libjpeg-turbo
 * (worker/runtimes/node/jpeg-addon), which takes the same calls and gives the same bytes.
 */
export type JpegPixelDecoder = Pick<JpegDecoder, 'decode'>;

/** `wasm` is wasm/jpeg/jpeg.wasm, precompiled (workerd imports it so; Node compiles it, see wasm-node.ts). */
export function createJpegCodec(wasm: WebAssembly.Module): JpegCodec {
  // One decoder per codec: it reuses one zero-filled wasm memory across decodes (see wasm/jpeg/index.ts). Its own
  // caps are the widest; each decode passes its own memory cap.
  return jpegCodecOver(
    createJpegDecoder(wasm, { maxOutputPixels: 0xffffffff, maxMemoryBytes: WASM32_MAX_MEMORY_BYTES }),
  );
}

/** The JPEG codec over any libjpeg decoder: the same colour conversions, limits and error codes. */
export function jpegCodecOver(decoder: JpegPixelDecoder): JpegCodec {
  return {
    format: 'jpeg',
    async decode(
      bytes,
      { scaleDenom = 1, maxOutputPixels = 0xffffffff, maxMemoryBytes = DEFAULT_MAX_MEMORY_BYTES } = {},
    ) {
      let decoded: DecodedJpeg;
      try {
        decoded = decoder.decode(bytes, {
          scaleDenom,
          maxOutputPixels: Math.min(maxOutputPixels, 0xffffffff),
          maxMemoryBytes: Math.min(maxMemoryBytes, WASM32_MAX_MEMORY_BYTES),
        });
      } catch (error) {
        throw toImageError(error);
      }
      return { ...toStoredRgb(decoded), decoderMemoryBytes: decoded.wasmMemoryBytes };
    },
  };
}
