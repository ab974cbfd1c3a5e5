/**
 * A minimal PNG encoder for 8-bit RGB: what `include=input` returns (the model's input as an image). Deflate is the
 * runtime's own CompressionStream (workerd and Node have it), so the encoder adds no library to the Worker's bundle.
 */
import { crc32 } from './png.js';
import type { RgbImage } from './types.js';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const ascii = new TextEncoder();

function chunk(type: string, data: Uint8Array): Uint8Array {
  const typeBytes = ascii.encode(type);
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(typeBytes, 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(typeBytes, data));
  return out;
}

/** zlib-wrapped deflate, as IDAT needs it. */
async function deflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** PNG's Paeth predictor: whichever of left, up, up-left is closest to left + up - upLeft. */
function paeth(left: number, up: number, upLeft: number): number {
  const estimate = left + up - upLeft;
  const toLeft = Math.abs(estimate - left);
  const toUp = Math.abs(estimate - up);
  const toUpLeft = Math.abs(estimate - upLeft);
  if (toLeft <= toUp && toLeft <= toUpLeft) return left;
  return toUp <= toUpLeft ? up : upLeft;
}

export async function encodePng(image: RgbImage): Promise<Uint8Array> {
  const { width, height, data } = image;
  if (data.length !== width * height * 3)
    throw new RangeError(`${width}×${height} RGB needs ${width * height * 3} bytes`);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, per-row filters, no interlace
  // Paeth filter (type 4) on every row: for photos it deflates to ~2/3 of unfiltered rows, with no per-row search.
  const rowBytes = width * 3;
  const raw = new Uint8Array((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * rowBytes;
    const out = y * (rowBytes + 1);
    raw[out] = 4;
    for (let x = 0; x < rowBytes; x++) {
      const left = x >= 3 ? data[row + x - 3] : 0;
      const up = y > 0 ? data[row - rowBytes + x] : 0;
      const upLeft = x >= 3 && y > 0 ? data[row - rowBytes + x - 3] : 0;
      raw[out + 1 + x] = (data[row + x] - paeth(left, up, upLeft)) & 0xff;
    }
  }
  const parts = [
    Uint8Array.from(SIGNATURE),
    chunk('IHDR', header),
    chunk('IDAT', await deflate(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** base64 `data:` URL, built in slices (String.fromCharCode on a whole image overflows the argument limit). */
export function pngDataUrl(png: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < png.length; i += 0x8000) binary += String.fromCharCode(...png.subarray(i, i + 0x8000));
  return `data:image/png;base64,${btoa(binary)}`;
}
