/**
 * WebP: the RIFF chunks are read here (dimensions from VP8 / VP8L / VP8X, the EXIF chunk); pixels come from
 * @jsquash/webp's libwebp build as RGBA (lossy, lossless, with or without alpha). Animated WebP is refused as
 * unsupported-format: this libwebp build decodes still images only.
 */
import webpDecoder from '@jsquash/webp/codec/dec/webp_dec.js';
import {
  emscriptenRunner,
  rgbaPixels,
  type DecodedImage,
  type EmscriptenFactory,
  type EmscriptenInstance,
} from './emscripten.js';
import { corrupt, unsupported } from './errors.js';
import { MiB, type DecodeMemory } from './memory.js';
import type { ImageCodec, ImageHeader, StoredPixels } from './types.js';
import { MAX_METADATA_BLOCKS, tooManyBlocks } from './work.js';

interface WebpModule extends EmscriptenInstance {
  decode(data: BufferSource): DecodedImage | null;
}

const VP8X_ANIMATION = 0x02;

/** @jsquash/webp's heap when instantiated (Emscripten's INITIAL_MEMORY). */
const HEAP_INITIAL_BYTES = 16 * MiB;
/**
 * Emscripten grows the heap to at least 1.2× its size at each step (emscripten_resize_heap), so a heap can end up to
 * 20 % above the most libwebp asked for.
 */
const HEAP_OVERGROWTH = 1.2;
/**
 * libwebp's full-size buffers in the heap, per pixel: the RGBA output (4); for lossless also the ARGB image it decodes
 * into (4); for lossy with alpha the alpha plane (1) and the ARGB image its lossless-coded alpha decodes into (4).
 */
const HEAP_BYTES_PER_PIXEL = { lossy: 4, lossyAlpha: 9, lossless: 8 } as const;
/** libwebp's row caches (lossy: ~24 rows of Y, U, V and filter state; lossless: 16+ ARGB rows), per column. */
const HEAP_BYTES_PER_COLUMN = 96;
/** Static data, stack, Huffman and colour-cache tables. */
const HEAP_FIXED_BYTES = 1 * MiB;
/** The file is in the heap twice: embind's copy of the argument and the std::string made from it. */
const HEAP_FILE_COPIES = 2;
/** The RGBA copy embind hands back out of the heap. */
const RGBA_BYTES_PER_PIXEL = 4;

function fourcc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

/** The WebP header: what the probe reads, plus what the decode's memory depends on. */
export interface WebpHeader extends ImageHeader {
  /** From the image chunk; undefined when the file ends before it. */
  compression?: 'lossy' | 'lossless';
  /** A lossy image with an alpha plane (ALPH chunk). */
  lossyAlpha: boolean;
}

export function probeWebp(bytes: Uint8Array): WebpHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let size: { width: number; height: number } | undefined;
  let exif: Uint8Array | undefined;
  let compression: WebpHeader['compression'];
  let alphaChunk = false;
  // Chunks start after "RIFF", the RIFF size and "WEBP"; each is padded to an even length.
  for (let offset = 12, count = 0; offset + 8 <= bytes.length; ) {
    if (++count > MAX_METADATA_BLOCKS) throw tooManyBlocks('WebP', 'RIFF chunks');
    const id = fourcc(bytes, offset);
    const length = view.getUint32(offset + 4, true);
    const start = offset + 8;
    const data = bytes.subarray(start, start + length);
    const complete = start + length <= bytes.length;
    if (!size) {
      if (data.length < 10) throw corrupt('WebP', `the file ends inside the ${id.trim()} header`);
      if (id === 'VP8X') {
        if (data[0] & VP8X_ANIMATION) throw unsupported('WebP', 'animated WebP');
        size = {
          width: 1 + (data[4] | (data[5] << 8) | (data[6] << 16)),
          height: 1 + (data[7] | (data[8] << 8) | (data[9] << 16)),
        };
      } else if (id === 'VP8 ') {
        if (data[3] !== 0x9d || data[4] !== 0x01 || data[5] !== 0x2a) throw corrupt('WebP', 'bad VP8 start code');
        size = { width: view.getUint16(start + 6, true) & 0x3fff, height: view.getUint16(start + 8, true) & 0x3fff };
      } else if (id === 'VP8L') {
        if (data[0] !== 0x2f) throw corrupt('WebP', 'bad VP8L signature');
        const bits = view.getUint32(start + 1, true);
        size = { width: 1 + (bits & 0x3fff), height: 1 + ((bits >>> 14) & 0x3fff) };
      } else {
        throw corrupt('WebP', `unexpected first chunk ${JSON.stringify(id)}`);
      }
    } else if (id === 'EXIF' && complete && !exif) {
      exif = data;
    }
    if (id === 'ALPH') alphaChunk = true;
    if (!compression && (id === 'VP8 ' || id === 'VP8L')) compression = id === 'VP8L' ? 'lossless' : 'lossy';
    if (!complete) break;
    offset = start + length + (length & 1);
  }
  if (!size) throw corrupt('WebP', 'no image chunk');
  if (size.width === 0 || size.height === 0) throw corrupt('WebP', 'zero width or height');
  return { ...size, exif, compression, lossyAlpha: compression === 'lossy' && alphaChunk };
}

/**
 * Decode memory, from the header: the Emscripten heap at its largest (the file's copies, libwebp's buffers and row
 * caches, with the heap's overgrowth; never below its initial size) plus the RGBA copy returned from it. The heap is
 * dropped after a decode that grew it, but it is only freed when it is garbage collected, so both count.
 * Measured heap sizes (bench:decode-memory) are within this.
 */
export function webpDecodeMemory(header: WebpHeader, { fileBytes }: { fileBytes: number }): DecodeMemory {
  // A file that ends before its image chunk fails to decode; count it as the costliest kind.
  const kind = header.compression === 'lossy' ? (header.lossyAlpha ? 'lossyAlpha' : 'lossy') : 'lossless';
  const perPixel = HEAP_OVERGROWTH * HEAP_BYTES_PER_PIXEL[kind];
  const heapFixed =
    HEAP_OVERGROWTH * (HEAP_FIXED_BYTES + HEAP_FILE_COPIES * fileBytes + HEAP_BYTES_PER_COLUMN * header.width);
  const pixels = header.width * header.height;
  // The heap never shrinks below its initial size; only small images are affected, for which the floor is fixed.
  const floor = Math.max(0, HEAP_INITIAL_BYTES - (perPixel * pixels + heapFixed));
  const name = { lossy: 'lossy WebP', lossyAlpha: 'lossy WebP with alpha', lossless: 'lossless WebP' }[kind];
  return { variant: name, bytesPerPixel: perPixel + RGBA_BYTES_PER_PIXEL, fixedBytes: heapFixed + floor };
}

export function createWebpCodec(wasm: WebAssembly.Module): ImageCodec {
  const run = emscriptenRunner(webpDecoder as unknown as EmscriptenFactory<WebpModule>, wasm);
  return {
    format: 'webp',
    async decode(bytes: Uint8Array): Promise<StoredPixels> {
      const outcome = await run((module) => module.decode(bytes));
      // libwebp reports failure (truncated or corrupt data) by returning no image.
      if (!outcome.ok || !outcome.value) {
        throw corrupt(
          'WebP',
          outcome.messages.join('; ') || 'libwebp could not decode the data',
          outcome.ok ? undefined : outcome.error,
        );
      }
      return rgbaPixels(outcome.value);
    },
  };
}
