/**
 * Crafted PNGs: valid images whose decoding cost came from how they are chopped up, not their size.
 */
import { deflateSync } from 'node:zlib';

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A PNG of `raw` (filtered scanlines) with its zlib stream split into IDAT chunks of `idatBytes`. */
export function pngWithIdat(
  width: number,
  height: number,
  bitDepth: number,
  colorType: number,
  zlib: Uint8Array,
  idatBytes: number,
): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  const parts = [Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr)];
  for (let offset = 0; offset < zlib.length; offset += idatBytes)
    parts.push(chunk('IDAT', zlib.subarray(offset, offset + idatBytes)));
  parts.push(chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

/** An 8-bit gray gradient, `width`×`height`, stored (level 0) deflate, its IDAT split into `idatBytes` chunks. */
export function grayPng(width: number, height: number, idatBytes: number, level = 0): Buffer {
  const raw = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) raw[y * (width + 1) + 1 + x] = (x + y) & 0xff;
  return pngWithIdat(width, height, 8, 0, deflateSync(raw, { level }), idatBytes);
}

/** The chunk flood: 1100×1100 gray, stored deflate, one-byte IDAT chunks (15.7 MB). */
export function oneByteIdatPng(width = 1100, height = 1100): Buffer {
  return grayPng(width, height, 1);
}

/** The scanline flood: 1×`height` 16-bit RGBA, solid, maximally compressed (66 KB at 7.6 M rows). */
export function tallPng(height = 7_600_000): Buffer {
  const raw = Buffer.alloc(height * 9); // filter byte 0 + one zero RGBA16 pixel per row
  return pngWithIdat(1, height, 16, 6, deflateSync(raw, { level: 9 }), 1 << 16);
}
