/**
 * Crafted GIFs for the hostile-input audit: valid files whose structure (sub-blocks, extensions, clear codes, canvas) is
 * pushed to extremes. The LZW codes are packed with the decoder's code-size schedule (worker/core/image/gif.ts).
 */

const MIN_CODE_SIZE = 8;
const CLEAR = 1 << MIN_CODE_SIZE;
const END = CLEAR + 1;

/** Packs codes LSB-first, widening them as a decoder does: after each code but the first after a clear. */
function packCodes(codes: readonly number[]): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let bitCount = 0;
  let codeSize = MIN_CODE_SIZE + 1;
  let nextCode = END + 1;
  let first = true;
  for (const code of codes) {
    bits |= code << bitCount;
    bitCount += codeSize;
    while (bitCount >= 8) {
      out.push(bits & 0xff);
      bits >>>= 8;
      bitCount -= 8;
    }
    if (code === CLEAR) {
      codeSize = MIN_CODE_SIZE + 1;
      nextCode = END + 1;
      first = true;
    } else if (first) {
      first = false;
    } else if (nextCode < 4096) {
      nextCode++;
      if (nextCode === 1 << codeSize && codeSize < 12) codeSize++;
    }
  }
  if (bitCount > 0) out.push(bits & 0xff);
  return Uint8Array.from(out);
}

/** Uncompressed LZW: each index a literal, a clear code before the table would widen the codes. */
export function literalCodes(indices: ArrayLike<number>, clearsFirst = 0): number[] {
  const codes: number[] = new Array(clearsFirst + 1).fill(CLEAR);
  let sinceClear = 0;
  for (let i = 0; i < indices.length; i++) {
    if (sinceClear === 250) {
      codes.push(CLEAR);
      sinceClear = 0;
    }
    codes.push(indices[i]);
    sinceClear++;
  }
  codes.push(END);
  return codes;
}

/**
 * The most expansion LZW allows: `pixels` of index 0, each code one longer than the last (the code being defined),
 * then the longest string again and again once the table is full (~3,800 pixels per 12-bit code).
 */
export function solidCodes(pixels: number): number[] {
  const codes = [CLEAR, 0];
  let produced = 1;
  let next = END + 1;
  while (produced < pixels) {
    if (next < 4096) {
      codes.push(next);
      produced += next - END + 1; // code `next` is index 0 repeated next − 256 times
      next++;
    } else {
      codes.push(4095);
      produced += 4095 - END + 1;
    }
  }
  codes.push(END);
  return codes;
}

function subBlocks(data: Uint8Array, size: number): number[] {
  const out: number[] = [];
  for (let offset = 0; offset < data.length; offset += size) {
    const block = data.subarray(offset, offset + size);
    out.push(block.length, ...block);
  }
  out.push(0);
  return out;
}

export interface GifOptions {
  screen: [number, number];
  frame: [number, number];
  codes: readonly number[];
  /** LZW data sub-block size (1–255). Default 255. */
  subBlockBytes?: number;
  /** Comment extensions before the image, each of `commentBytes` in one-byte sub-blocks. */
  comments?: number;
  commentBytes?: number;
}

/** A GIF89a with a 256-entry gray palette (index i = gray i) and one frame at (0, 0). */
export function craftGif(options: GifOptions): Buffer {
  const { screen, frame, codes, subBlockBytes = 255, comments = 0, commentBytes = 1 } = options;
  const u16 = (v: number) => [v & 0xff, v >> 8];
  const palette = Array.from({ length: 768 }, (_, i) => Math.floor(i / 3));
  const comment = [0x21, 0xfe, ...subBlocks(new Uint8Array(commentBytes).fill(0x41), 1)];
  const parts: number[][] = [[...Buffer.from('GIF89a'), ...u16(screen[0]), ...u16(screen[1]), 0xf7, 0, 0], palette];
  const head = Buffer.from(parts.flat());
  const commentsPart = Buffer.alloc(comments * comment.length);
  for (let i = 0; i < comments; i++) commentsPart.set(comment, i * comment.length);
  const image = Buffer.from([
    0x2c,
    ...u16(0),
    ...u16(0),
    ...u16(frame[0]),
    ...u16(frame[1]),
    0,
    MIN_CODE_SIZE,
    ...subBlocks(packCodes(codes), subBlockBytes),
    0x3b,
  ]);
  return Buffer.concat([head, commentsPart, image]);
}
