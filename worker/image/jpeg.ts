/**
 * JPEG. The header is read here (markers up to the frame header, collecting the EXIF APP1 segment); pixels come from
 * @jsquash/jpeg's mozjpeg build (libjpeg-turbo's ISLOW IDCT and fancy upsampling, as PIL's libjpeg uses), as RGBA.
 * Only this file knows which decoder runs: swapping in another (e.g. a libjpeg-turbo wasm with DCT-domain scaling)
 * touches nothing else.
 *
 * Refused before decoding (unsupported-format), as this build cannot decode them: 12/16-bit samples, lossless,
 * hierarchical and arithmetic-coded JPEG, 4-component (CMYK/YCCK) files and DNL-sized frames. Truncated files are
 * corrupt-image: libjpeg pads them with gray and warns, PIL raises "image file is truncated".
 */
import mozjpegDecoder from '@jsquash/jpeg/codec/dec/mozjpeg_dec.js';
import { emscriptenRunner, rgbaPixels, type DecodedImage, type EmscriptenFactory, type EmscriptenInstance } from './emscripten.js';
import { corrupt, ImageError, unsupported } from './errors.js';
import type { ImageCodec, ImageHeader, StoredPixels } from './types.js';

interface MozjpegModule extends EmscriptenInstance {
  decode(data: BufferSource, preserveOrientation: boolean): DecodedImage | null;
}

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
/** The @jsquash mozjpeg build has no arithmetic decoding ("Sorry, arithmetic coding is not implemented"). */
const DECODABLE_FRAMES = new Set([0xc0, 0xc1, 0xc2]);
const EXIF_HEADER = [0x45, 0x78, 0x69, 0x66, 0, 0]; // "Exif\0\0"

/** libjpeg messages that mean "valid JPEG, but not something this build decodes". */
const UNSUPPORTED_MESSAGES =
  /not implemented|omitted at compile time|Unsupported color conversion|Unsupported JPEG data precision|DNL not supported/i;
/** libjpeg's warning for a file that ends before the image data does. */
const TRUNCATED_MESSAGE = /Premature end of JPEG file/i;

/** Validates a frame header (SOFn segment) and returns the image size it declares. */
function frameSize(marker: number, segment: Uint8Array): { width: number; height: number } {
  const kind = FRAME_KINDS[marker];
  if (segment.length < 6) throw corrupt('JPEG', 'truncated frame header');
  const precision = segment[0];
  const height = (segment[1] << 8) | segment[2];
  const width = (segment[3] << 8) | segment[4];
  const components = segment[5];
  if (!DECODABLE_FRAMES.has(marker)) throw unsupported('JPEG', `${kind} JPEG`);
  if (precision !== 8) throw unsupported('JPEG', `${precision}-bit samples`);
  if (components === 4) throw unsupported('JPEG', 'CMYK/YCCK (4-component) JPEG');
  if (components !== 1 && components !== 3) throw unsupported('JPEG', `${components}-component JPEG`);
  if (height === 0) throw unsupported('JPEG', 'height defined by a DNL marker');
  if (width === 0) throw corrupt('JPEG', 'zero width');
  return { width, height };
}

/**
 * Walks the marker segments up to the first scan: the frame header gives the size, the first APP1 "Exif" segment
 * the EXIF block (PIL, too, takes the first one, wherever it is before the scan).
 */
export function probeJpeg(bytes: Uint8Array): ImageHeader {
  if (bytes[0] !== 0xff || bytes[1] !== SOI) throw corrupt('JPEG', 'no start-of-image marker');
  let size: { width: number; height: number } | undefined;
  let exif: Uint8Array | undefined;
  let offset = 2;
  // The header ends at the scan, or where the file does (the rest is not the probe's business).
  const headerEnd = (): ImageHeader => {
    if (size) return { ...size, exif };
    throw corrupt('JPEG', 'no frame header before the image data');
  };
  for (;;) {
    // Like libjpeg, skip any bytes before the next 0xFF and any 0xFF fill bytes.
    while (offset < bytes.length && bytes[offset] !== 0xff) offset++;
    while (offset < bytes.length && bytes[offset] === 0xff) offset++;
    if (offset >= bytes.length) return headerEnd();
    const marker = bytes[offset++];
    if (marker === SOS || marker === EOI) return headerEnd();
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // markers without a segment
    if (offset + 2 > bytes.length) return headerEnd();
    const length = (bytes[offset] << 8) | bytes[offset + 1];
    if (length < 2) throw corrupt('JPEG', `invalid length of marker 0x${marker.toString(16)}`);
    if (offset + length > bytes.length) return headerEnd();
    const segment = bytes.subarray(offset + 2, offset + length);
    if (marker === APP1 && !exif && EXIF_HEADER.every((value, i) => segment[i] === value)) {
      exif = segment.subarray(EXIF_HEADER.length);
    }
    if (FRAME_KINDS[marker] && !size) size = frameSize(marker, segment);
    offset += length;
  }
}

export function createJpegCodec(wasm: WebAssembly.Module): ImageCodec {
  const run = emscriptenRunner(mozjpegDecoder as unknown as EmscriptenFactory<MozjpegModule>, wasm);
  return {
    format: 'jpeg',
    async decode(bytes: Uint8Array): Promise<StoredPixels> {
      // Orientation is applied by the caller (for every format alike), so the decoder must not rotate.
      const outcome = await run((module) => module.decode(bytes, false));
      const log = outcome.messages.join('; ');
      if (!outcome.ok) {
        if (UNSUPPORTED_MESSAGES.test(log)) throw new ImageError('unsupported-format', `unsupported JPEG: ${log}`);
        throw corrupt('JPEG', log || String(outcome.error), outcome.error);
      }
      if (TRUNCATED_MESSAGE.test(log)) throw corrupt('JPEG', 'the file is truncated');
      if (!outcome.value) throw corrupt('JPEG', log || 'the decoder returned no image');
      return rgbaPixels(outcome.value);
    },
  };
}
