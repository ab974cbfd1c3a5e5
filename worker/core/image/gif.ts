/**
 * GIF, first frame, as PIL's `Image.open(f).convert('RGB')` renders it: the canvas is the logical screen grown to
 * hold the frame; pixels outside the frame take the transparent index's colour when the frame has one, else index
 * 0's; transparent pixels inside the frame keep their palette colour (alpha is dropped); a palette that is the
 * identity gray ramp, or no palette, means the index is the gray level; indices beyond the palette are black.
 *
 * Written here rather than with omggif: omggif's LZW decoder loops forever on a 40-byte crafted file (a code table
 * entry can be made its own prefix), which would hang the isolate. This decoder's prefix chains always point to
 * older entries, and it stops as soon as the frame is full.
 *
 * Memory: the RGB canvas is the only full-size buffer. Indices are turned into RGB as the LZW decoder produces them
 * (in runs of 64 Ki), and the LZW data is read in place from its sub-blocks.
 */
import { corrupt } from './errors.js';
import type { DecodeMemory } from './memory.js';
import type { ImageCodec, ImageHeader, StoredPixels } from './types.js';
import { MAX_METADATA_BLOCKS, tooManyBlocks, WorkYielder } from './work.js';

const EXTENSION = 0x21;
const IMAGE_DESCRIPTOR = 0x2c;
const TRAILER = 0x3b;
const GRAPHIC_CONTROL = 0xf9;
const MAX_CODES = 4096;

interface Frame {
  canvasWidth: number;
  canvasHeight: number;
  x: number;
  y: number;
  width: number;
  height: number;
  interlaced: boolean;
  /** RGB triples; undefined when the file has no applicable colour table. */
  palette?: Uint8Array;
  transparentIndex?: number;
  minCodeSize: number;
  /** Offset of the first data sub-block (after the LZW minimum code size byte). */
  dataOffset: number;
}

function need(bytes: Uint8Array, end: number, what: string): void {
  if (end > bytes.length) throw corrupt('GIF', `the file ends inside the ${what}`);
}

/** Offset just past a chain of sub-blocks starting at `offset` (a size byte, that many bytes, … a zero byte). */
function skipSubBlocks(bytes: Uint8Array, offset: number, what: string): number {
  for (;;) {
    need(bytes, offset + 1, what);
    const size = bytes[offset];
    offset += 1 + size;
    if (size === 0) return offset;
  }
}

/** Parses up to the first image descriptor. */
function firstFrame(bytes: Uint8Array): Frame {
  need(bytes, 13, 'header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const screenWidth = view.getUint16(6, true);
  const screenHeight = view.getUint16(8, true);
  const flags = bytes[10];
  let offset = 13;
  let globalPalette: Uint8Array | undefined;
  if (flags & 0x80) {
    const size = 3 << ((flags & 7) + 1);
    need(bytes, offset + size, 'global colour table');
    globalPalette = bytes.subarray(offset, offset + size);
    offset += size;
  }
  let transparentIndex: number | undefined;
  let extensions = 0;
  for (;;) {
    need(bytes, offset + 1, 'block list');
    const introducer = bytes[offset++];
    if (introducer === EXTENSION) {
      if (++extensions > MAX_METADATA_BLOCKS) throw tooManyBlocks('GIF', 'extensions before the first image');
      need(bytes, offset + 1, 'extension');
      const label = bytes[offset++];
      if (label === GRAPHIC_CONTROL && bytes[offset] >= 4) {
        need(bytes, offset + 5, 'graphic control extension');
        transparentIndex = bytes[offset + 1] & 1 ? bytes[offset + 4] : undefined;
      }
      offset = skipSubBlocks(bytes, offset, 'extension');
    } else if (introducer === IMAGE_DESCRIPTOR) {
      need(bytes, offset + 10, 'image descriptor');
      const x = view.getUint16(offset, true);
      const y = view.getUint16(offset + 2, true);
      const width = view.getUint16(offset + 4, true);
      const height = view.getUint16(offset + 6, true);
      const frameFlags = bytes[offset + 8];
      offset += 9;
      let palette = globalPalette;
      if (frameFlags & 0x80) {
        const size = 3 << ((frameFlags & 7) + 1);
        need(bytes, offset + size, 'local colour table');
        palette = bytes.subarray(offset, offset + size);
        offset += size;
      }
      need(bytes, offset + 1, 'image data');
      return {
        canvasWidth: Math.max(screenWidth, x + width),
        canvasHeight: Math.max(screenHeight, y + height),
        x,
        y,
        width,
        height,
        interlaced: (frameFlags & 0x40) !== 0,
        palette,
        transparentIndex,
        minCodeSize: bytes[offset],
        dataOffset: offset + 1,
      };
    } else if (introducer === TRAILER) {
      throw corrupt('GIF', 'no image in the file');
    } else {
      throw corrupt('GIF', `unknown block 0x${introducer.toString(16)}`);
    }
  }
}

export function probeGif(bytes: Uint8Array): ImageHeader {
  const frame = firstFrame(bytes);
  if (frame.canvasWidth === 0 || frame.canvasHeight === 0) throw corrupt('GIF', 'zero width or height');
  return { width: frame.canvasWidth, height: frame.canvasHeight };
}

/**
 * Reads the frame's LZW data straight from its sub-blocks (a size byte, that many bytes, … a zero byte), so the
 * compressed data is never copied. The caller has checked that the chain is complete.
 */
class SubBlockReader {
  /** At a size byte whenever position === blockEnd. */
  private position: number;
  private blockEnd: number;

  constructor(
    private readonly bytes: Uint8Array,
    offset: number,
  ) {
    this.position = this.blockEnd = offset;
  }

  /** The next data byte, or -1 at the block terminator. */
  next(): number {
    if (this.position === this.blockEnd) {
      const size = this.bytes[this.position];
      if (size === 0) return -1;
      this.position++;
      this.blockEnd = this.position + size;
    }
    return this.bytes[this.position++];
  }
}

/** Indices decoded since the last flush are handed over in runs of about this many, so no full-frame index buffer exists. */
const INDEX_RUN = 64 * 1024;
/** Codes read between two checks of the yielder: a stream of clear codes produces no indices but still costs. */
const CODE_BATCH = 64 * 1024;
/** Indices produced between two checks of the yielder. */
const INDEX_BATCH = 256 * 1024;

/**
 * Decodes LZW codes until `total` indices were produced, the stream's end code, or the data runs out, handing the
 * indices to `emit` in order, in runs, and yielding to the event loop between batches of codes as `yielder` says.
 * Returns how many indices were produced. Its cost is bounded by the frame's pixels plus the codes in the file.
 */
async function decodeLzw(
  data: SubBlockReader,
  minCodeSize: number,
  total: number,
  emit: (indices: Uint8Array, count: number) => void,
  yielder: WorkYielder,
): Promise<number> {
  const lzw = lzwDecoder(data, minCodeSize, total, emit);
  for (;;) {
    const before = lzw.produced();
    if (lzw.run(CODE_BATCH, INDEX_BATCH)) return lzw.finish();
    if (yielder.add(CODE_BATCH + lzw.produced() - before)) await yielder.yield();
  }
}

/**
 * The LZW decoder's state between batches. `run` is synchronous (an `await` inside the per-code loop made it ~4×
 * slower); its state lives in locals while it runs and in this closure between runs.
 */
function lzwDecoder(
  data: SubBlockReader,
  minCodeSize: number,
  total: number,
  emit: (indices: Uint8Array, count: number) => void,
) {
  const clearCode = 1 << minCodeSize;
  const endCode = clearCode + 1;
  const prefix = new Uint16Array(MAX_CODES);
  const suffix = new Uint8Array(MAX_CODES);
  const first = new Uint8Array(MAX_CODES);
  const length = new Uint16Array(MAX_CODES);
  for (let code = 0; code < clearCode; code++) {
    suffix[code] = first[code] = code;
    length[code] = 1;
  }
  // A run plus room for one more string (at most MAX_CODES long), written whole before the run is flushed.
  const indices = new Uint8Array(INDEX_RUN + MAX_CODES);
  const state = {
    codeSize: minCodeSize + 1,
    nextCode: endCode + 1,
    previous: -1,
    flushed: 0,
    written: 0, // in `indices`; flushed + written indices produced so far
    bits: 0,
    bitCount: 0,
    exhausted: false,
  };

  /**
   * Decodes until `maxCodes` codes were read or `maxIndices` indices produced (a code can produce ~4,000); true when
   * the frame is done (full, ended, or out of data).
   */
  function run(maxCodes: number, maxIndices: number): boolean {
    let { codeSize, nextCode, previous, flushed, written, bits, bitCount, exhausted } = state;
    const until = flushed + written + maxIndices;
    try {
      for (let codes = 0; ; codes++) {
        if (flushed + written >= total) return true;
        if (codes === maxCodes || flushed + written >= until) return false;
        if (written >= INDEX_RUN) {
          emit(indices, written);
          flushed += written;
          written = 0;
        }
        while (bitCount < codeSize && !exhausted) {
          const byte = data.next();
          if (byte < 0) exhausted = true;
          else {
            bits |= byte << bitCount;
            bitCount += 8;
          }
        }
        if (bitCount < codeSize) return true;
        const code = bits & ((1 << codeSize) - 1);
        bits >>>= codeSize;
        bitCount -= codeSize;

        if (code === clearCode) {
          codeSize = minCodeSize + 1;
          nextCode = endCode + 1;
          previous = -1;
          continue;
        }
        if (code === endCode) return true;
        if (previous === -1) {
          if (code > clearCode) throw corrupt('GIF', 'the LZW data starts with an undefined code');
          indices[written++] = code;
          previous = code;
          continue;
        }
        if (code > nextCode || (code === nextCode && nextCode === MAX_CODES)) {
          throw corrupt('GIF', 'invalid LZW code');
        }
        // The code's string, or (for the code being defined) the previous string plus its own first index.
        const known = code < nextCode;
        const head = known ? code : previous;
        const stringLength = length[head] + (known ? 0 : 1);
        const firstIndex = first[head];
        if (!known) indices[written + stringLength - 1] = firstIndex;
        for (let c = head, at = written + length[head] - 1; at >= written; c = prefix[c], at--) indices[at] = suffix[c];
        written += stringLength;

        if (nextCode < MAX_CODES) {
          prefix[nextCode] = previous;
          suffix[nextCode] = known ? firstIndex : first[previous];
          first[nextCode] = first[previous];
          length[nextCode] = length[previous] + 1;
          nextCode++;
          if (nextCode === 1 << codeSize && codeSize < 12) codeSize++;
        }
        previous = code;
      }
    } finally {
      Object.assign(state, { codeSize, nextCode, previous, flushed, written, bits, bitCount, exhausted });
    }
  }

  return {
    run,
    produced: () => state.flushed + state.written,
    /** Emits what is left (indices past the frame's last pixel are dropped) and returns the count produced. */
    finish(): number {
      const last = Math.min(state.written, total - state.flushed);
      if (last > 0) emit(indices, last);
      return state.flushed + last;
    },
  };
}

/** LZW tables, one index run, the colour table, and room for small objects. */
const GIF_WORKING_BYTES = 128 * 1024;

/**
 * Decode memory, from the header: the RGB canvas (3 bytes per pixel), the interlaced row order (4 bytes per row at
 * most) and GIF_WORKING_BYTES.
 */
export function gifDecodeMemory(header: ImageHeader): DecodeMemory {
  return { variant: 'GIF', bytesPerPixel: 3, fixedBytes: 4 * header.height + GIF_WORKING_BYTES };
}

/** Row order of an interlaced frame: every 8th row from 0, every 8th from 4, every 4th from 2, every 2nd from 1. */
function interlacedRows(height: number): Uint32Array {
  const rows = new Uint32Array(height);
  let i = 0;
  for (const [start, step] of [
    [0, 8],
    [4, 8],
    [2, 4],
    [1, 2],
  ]) {
    for (let y = start; y < height; y += step) rows[i++] = y;
  }
  return rows;
}

/** Index → RGB, as PIL's P (or L) → RGB conversion does. */
function colourTable(palette: Uint8Array | undefined): Uint8Array {
  const table = new Uint8Array(256 * 3);
  const identityGray = !palette || palette.every((value, i) => value === Math.floor(i / 3));
  if (identityGray) {
    for (let i = 0; i < 256; i++) table[i * 3] = table[i * 3 + 1] = table[i * 3 + 2] = i;
  } else {
    table.set(palette.subarray(0, 768));
  }
  return table;
}

async function decodeGif(bytes: Uint8Array): Promise<StoredPixels> {
  const frame = firstFrame(bytes);
  if (frame.minCodeSize < 1 || frame.minCodeSize > 8)
    throw corrupt('GIF', `invalid LZW code size ${frame.minCodeSize}`);
  skipSubBlocks(bytes, frame.dataOffset, 'image data'); // a file that ends before the block terminator is corrupt

  // The canvas starts as the fill colour: pixels outside the frame, and frame pixels the LZW stream does not reach
  // (the file itself was complete), keep it, as in PIL.
  const table = colourTable(frame.palette);
  const fill = (frame.transparentIndex ?? 0) * 3;
  const { canvasWidth, canvasHeight } = frame;
  const out = new Uint8Array(canvasWidth * canvasHeight * 3);
  out.set(table.subarray(fill, fill + 3));
  // Doubling copies: a native memmove per step, not a JavaScript loop over the whole canvas.
  for (let filled = 3; filled < out.length; filled *= 2)
    out.copyWithin(filled, 0, Math.min(filled, out.length - filled));

  // Indices become RGB as they are decoded, in frame raster order (rows reordered when interlaced).
  const rows = frame.interlaced ? interlacedRows(frame.height) : undefined;
  const rowStart = (r: number) => ((frame.y + (rows ? rows[r] : r)) * canvasWidth + frame.x) * 3;
  let row = 0;
  let x = 0;
  let o = rowStart(0);
  const yielder = new WorkYielder();
  await decodeLzw(
    new SubBlockReader(bytes, frame.dataOffset),
    frame.minCodeSize,
    frame.width * frame.height,
    (indices, count) => {
      for (let i = 0; i < count; ) {
        if (x === frame.width) {
          x = 0;
          o = rowStart(++row);
        }
        // The rest of this row, or of this run.
        const end = i + Math.min(count - i, frame.width - x);
        x += end - i;
        for (; i < end; i++, o += 3) {
          const t = indices[i] * 3;
          out[o] = table[t];
          out[o + 1] = table[t + 1];
          out[o + 2] = table[t + 2];
        }
      }
    },
    yielder,
  );
  return { width: canvasWidth, height: canvasHeight, channels: 3, data: out };
}

export const gifCodec: ImageCodec = {
  format: 'gif',
  decode: decodeGif,
};
