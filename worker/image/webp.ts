/**
 * WebP: the RIFF chunks are read here (dimensions from VP8 / VP8L / VP8X, the EXIF chunk); pixels come from
 * @jsquash/webp's libwebp build as RGBA (lossy, lossless, with or without alpha). Animated WebP is refused as
 * unsupported-format: this libwebp build decodes still images only.
 */
import webpDecoder from '@jsquash/webp/codec/dec/webp_dec.js';
import { emscriptenRunner, rgbaPixels, type DecodedImage, type EmscriptenFactory, type EmscriptenInstance } from './emscripten.js';
import { corrupt, unsupported } from './errors.js';
import type { ImageCodec, ImageHeader, StoredPixels } from './types.js';

interface WebpModule extends EmscriptenInstance {
  decode(data: BufferSource): DecodedImage | null;
}

const VP8X_ANIMATION = 0x02;

function fourcc(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
}

export function probeWebp(bytes: Uint8Array): ImageHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let size: { width: number; height: number } | undefined;
  let exif: Uint8Array | undefined;
  // Chunks start after "RIFF", the RIFF size and "WEBP"; each is padded to an even length.
  for (let offset = 12; offset + 8 <= bytes.length; ) {
    const id = fourcc(bytes, offset);
    const length = view.getUint32(offset + 4, true);
    const start = offset + 8;
    const data = bytes.subarray(start, start + length);
    const complete = start + length <= bytes.length;
    if (!size) {
      if (data.length < 10) throw corrupt('WebP', `the file ends inside the ${id.trim()} header`);
      if (id === 'VP8X') {
        if (data[0] & VP8X_ANIMATION) throw unsupported('WebP', 'animated WebP');
        size = { width: 1 + (data[4] | (data[5] << 8) | (data[6] << 16)), height: 1 + (data[7] | (data[8] << 8) | (data[9] << 16)) };
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
    if (!complete) break;
    offset = start + length + (length & 1);
  }
  if (!size) throw corrupt('WebP', 'no image chunk');
  if (size.width === 0 || size.height === 0) throw corrupt('WebP', 'zero width or height');
  return { ...size, exif };
}

export function createWebpCodec(wasm: WebAssembly.Module): ImageCodec {
  const run = emscriptenRunner(webpDecoder as unknown as EmscriptenFactory<WebpModule>, wasm);
  return {
    format: 'webp',
    async decode(bytes: Uint8Array): Promise<StoredPixels> {
      const outcome = await run((module) => module.decode(bytes));
      // libwebp reports failure (truncated or corrupt data) by returning no image.
      if (!outcome.ok || !outcome.value) {
        throw corrupt('WebP', outcome.messages.join('; ') || 'libwebp could not decode the data', outcome.ok ? undefined : outcome.error);
      }
      return rgbaPixels(outcome.value);
    },
  };
}
