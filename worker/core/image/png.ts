/**
 * PNG: chunks parsed here, IDAT inflated by the platform's DecompressionStream (native zlib in workerd and Node;
 * 2–5× faster than fflate here), and each scanline unfiltered and written straight into the RGB output as it
 * arrives. No RGBA or 16-bit intermediate image and no wasm heap (@jsquash/png needed a 144 MB wasm heap plus a 48 MB
 * copy for a 12 MP PNG): the decode holds the RGB result, two scanlines and the inflater's output in flight
 * (pngDecodeMemory).
 *
 * Samples become RGB as PIL's `Image.open(f).convert('RGB')` makes them: alpha and tRNS are dropped (a palette index
 * keeps its palette colour); 1/2/4-bit gray scales to 0–255; 16-bit colour keeps the high byte (PIL's RGB;16B,
 * RGBA;16B and LA;16B unpackers); 16-bit gray saturates at 255 (PIL opens it as I;16, whose RGB conversion clips);
 * palette indices beyond PLTE are black. Gamma, sRGB and ICC chunks are ignored, as PIL's convert ignores them.
 */
import { corrupt, ImageError } from './errors.js';
import { MiB, type DecodeMemory } from './memory.js';
import type { ImageCodec, ImageHeader, StoredPixels } from './types.js';
import { checkWork, MAX_METADATA_BLOCKS, tooManyBlocks, WorkYielder } from './work.js';

const SIGNATURE_BYTES = 8;
/**
 * Compressed bytes handed to the inflater at a time. Deflate expands at most ~1032×, and workerd's
 * DecompressionStream inflates a whole written chunk into its output buffer before any of it is read (no
 * backpressure, workerd's compression.c++), so this bounds the inflated data in flight: ~4 MiB, where 64 KiB slices
 * let a solid-colour 16 MP PNG put ~43 MB in flight. Smaller slices cost time in Node (1 KiB: 2× slower on a 16 MP
 * PNG; 4 KiB: no slower).
 */
const INFLATE_SLICE = 4 * 1024;
const DEFLATE_MAX_EXPANSION = 1032;
/**
 * Most IDAT chunks per inflated byte, plus a few. Encoders write chunks of 8–64 KiB; one-byte chunks made decoding
 * cost ~70 µs per chunk (one inflater write each), so the count is capped relative to the image before anything is
 * inflated, and the walk stops as soon as the cap is passed.
 */
const MAX_IDAT_CHUNKS_FIXED = 64;
const MIN_INFLATED_BYTES_PER_IDAT = 256;

const COLOR_GRAY = 0;
const COLOR_RGB = 2;
const COLOR_PALETTE = 3;
const COLOR_GRAY_ALPHA = 4;
const COLOR_RGBA = 6;

const SAMPLES_PER_PIXEL: Record<number, number> = {
  [COLOR_GRAY]: 1,
  [COLOR_RGB]: 3,
  [COLOR_PALETTE]: 1,
  [COLOR_GRAY_ALPHA]: 2,
  [COLOR_RGBA]: 4,
};
const COLOR_NAMES: Record<number, string> = {
  [COLOR_GRAY]: 'gray',
  [COLOR_RGB]: 'RGB',
  [COLOR_PALETTE]: 'palette',
  [COLOR_GRAY_ALPHA]: 'gray+alpha',
  [COLOR_RGBA]: 'RGBA',
};
/** The palette, the inflater's own state (zlib's 32 KiB window and tables) and small objects. */
const PNG_WORKING_BYTES = 128 * 1024;
const ALLOWED_DEPTHS: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/** Adam7: [xStart, yStart, xStep, yStep] of each pass. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

interface Ihdr {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

interface Chunk {
  type: string;
  data: Uint8Array;
  /** False when the file ends inside this chunk (`data` is what there is). */
  complete: boolean;
  /** Whether the stored CRC matches; computed on demand, since IDAT checksums are never checked (as in PIL). */
  crcMatches(): boolean;
}

let crcTable: Uint32Array | undefined;

/** A PNG chunk's CRC-32 over its type and data (also used by png-encode.ts). */
export function crc32(type: Uint8Array, data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const part of [type, data]) {
    for (let i = 0; i < part.length; i++) c = crcTable[(c ^ part[i]) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Walks the chunks after the signature; stops at IEND or where the file ends. */
function* chunks(bytes: Uint8Array): Generator<Chunk> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = SIGNATURE_BYTES;
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset);
    const typeBytes = bytes.subarray(offset + 4, offset + 8);
    const type = String.fromCharCode(...typeBytes);
    const start = offset + 8;
    const end = start + length;
    const complete = end + 4 <= bytes.length;
    const data = bytes.subarray(start, Math.min(end, bytes.length));
    yield { type, data, complete, crcMatches: () => complete && view.getUint32(end) === crc32(typeBytes, data) };
    if (!complete || type === 'IEND') return;
    offset = end + 4;
  }
}

function parseIhdr(chunk: Chunk | undefined): Ihdr {
  if (chunk?.type !== 'IHDR') throw corrupt('PNG', 'the first chunk is not IHDR');
  if (!chunk.complete || chunk.data.length !== 13) throw corrupt('PNG', 'truncated IHDR chunk');
  if (!chunk.crcMatches()) throw corrupt('PNG', 'bad IHDR checksum');
  const view = new DataView(chunk.data.buffer, chunk.data.byteOffset, 13);
  const ihdr: Ihdr = {
    width: view.getUint32(0),
    height: view.getUint32(4),
    bitDepth: chunk.data[8],
    colorType: chunk.data[9],
    interlaced: chunk.data[12] === 1,
  };
  if (ihdr.width === 0 || ihdr.height === 0 || ihdr.width > 0x7fffffff || ihdr.height > 0x7fffffff) {
    throw corrupt('PNG', `invalid dimensions ${ihdr.width}×${ihdr.height}`);
  }
  if (!ALLOWED_DEPTHS[ihdr.colorType]?.includes(ihdr.bitDepth)) {
    throw corrupt('PNG', `invalid colour type ${ihdr.colorType} with bit depth ${ihdr.bitDepth}`);
  }
  if (chunk.data[10] !== 0 || chunk.data[11] !== 0 || chunk.data[12] > 1) {
    throw corrupt('PNG', 'unknown compression, filter or interlace method');
  }
  return ihdr;
}

/** The PNG header: what the probe reads, plus what the decode's memory depends on. */
export interface PngHeader extends ImageHeader {
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

export function probePng(bytes: Uint8Array): PngHeader {
  let ihdr: Ihdr | undefined;
  let exif: Uint8Array | undefined;
  let idat = 0;
  let others = 0;
  for (const chunk of chunks(bytes)) {
    if (!ihdr) {
      ihdr = parseIhdr(chunk);
    } else if (chunk.type !== 'IDAT' && ++others > MAX_METADATA_BLOCKS) {
      throw tooManyBlocks('PNG', 'chunks besides IDAT');
    } else if (chunk.type === 'IDAT') {
      // Past the cap the decode refuses the image: walking the rest would cost time per chunk for nothing.
      if (++idat > maxIdatChunks(ihdr)) break;
    } else if (chunk.type === 'eXIf' && chunk.complete && !exif) {
      // PIL's exif_transpose also finds an eXIf chunk that follows the image data.
      exif = chunk.data;
    }
  }
  if (!ihdr) throw corrupt('PNG', 'no IHDR chunk');
  return { ...ihdr, exif };
}

/** Scanline bytes of a row `width` pixels wide, without the filter byte. */
function rowBytes(width: number, bitsPerPixel: number): number {
  return Math.ceil((width * bitsPerPixel) / 8);
}

/**
 * Decompressed chunks are garbage as soon as their scanlines are written, but the engine frees them on its own
 * schedule, so some are still resident at the peak: in Node (bench:decode-memory) up to ~10 MiB for 8-bit PNGs of
 * 2–16 MP. Counted up to this much (never more than the inflated image). Not a hard bound: it is how far the
 * collector lags, which depends on the runtime (16-bit PNGs inflate to more data: up to ~16 MiB; a solid-colour
 * 16-bit 16 MP PNG, 128 MB of inflated data in ~0.5 s, ~29 MiB).
 */
const INFLATE_GARBAGE_BYTES = 8 * MiB;

/**
 * Decode memory, from the header: the RGB result (3 bytes per pixel, whatever the colour type and bit depth), two
 * scanlines, the inflater's output for one slice twice (its buffer and the chunk handed over; never more than the
 * whole inflated image) and the decompressed chunks awaiting collection (INFLATE_GARBAGE_BYTES).
 */
export function pngDecodeMemory(header: PngHeader): DecodeMemory {
  const bitsPerPixel = SAMPLES_PER_PIXEL[header.colorType] * header.bitDepth;
  const scanline = 1 + rowBytes(header.width, bitsPerPixel);
  // Interlaced: the passes' scanlines add at most one filter byte and one partial byte per pass row.
  const inflated = header.height * (scanline + (header.interlaced ? 14 : 0));
  const inFlight = Math.min(2 * INFLATE_SLICE * DEFLATE_MAX_EXPANSION, inflated);
  const garbage = Math.min(INFLATE_GARBAGE_BYTES, inflated);
  return {
    variant: `${header.bitDepth}-bit ${COLOR_NAMES[header.colorType]} PNG`,
    bytesPerPixel: 3,
    fixedBytes: 2 * scanline + inFlight + garbage + PNG_WORKING_BYTES,
  };
}

/** The most IDAT chunks a PNG of this size may have (MAX_IDAT_CHUNKS_FIXED). */
export function maxIdatChunks(
  header: Pick<Ihdr, 'width' | 'height' | 'bitDepth' | 'colorType' | 'interlaced'>,
): number {
  const bitsPerPixel = SAMPLES_PER_PIXEL[header.colorType] * header.bitDepth;
  const inflated = header.height * (1 + rowBytes(header.width, bitsPerPixel) + (header.interlaced ? 14 : 0));
  return MAX_IDAT_CHUNKS_FIXED + Math.ceil(inflated / MIN_INFLATED_BYTES_PER_IDAT);
}

/**
 * A scanline costs ~10 pixels' worth of work whatever its width (unfiltering and writing it, in JavaScript), so a
 * 1×7,600,000 PNG took 0.9–1.4 s where a square one of as many pixels takes ~0.13 s. Inflated bytes beyond one per
 * pixel (16-bit, alpha) cost ~1/8 of a pixel each. Measured in Node (bench:hostile).
 */
const ROW_WORK = 10;
const BYTE_WORK = 1 / 8;

/** The decode's work (worker/core/image/work.ts units) from the header: pixels, inflated bytes and scanlines. */
export function pngWork(header: Pick<Ihdr, 'width' | 'height' | 'bitDepth' | 'colorType' | 'interlaced'>): number {
  const bitsPerPixel = SAMPLES_PER_PIXEL[header.colorType] * header.bitDepth;
  let work = 0;
  for (const pass of passes(header)) {
    work += pass.height * (ROW_WORK + pass.width + BYTE_WORK * (1 + rowBytes(pass.width, bitsPerPixel)));
  }
  return work;
}

/** Writes `count` pixels of one unfiltered scanline as RGB at out[start], out[start + step], … */
type RowWriter = (line: Uint8Array, count: number, out: Uint8Array, start: number, step: number) => void;

function rowWriter(ihdr: Ihdr, palette: Uint8Array): RowWriter {
  const { bitDepth, colorType } = ihdr;
  if (bitDepth < 8) {
    const mask = (1 << bitDepth) - 1;
    const gray = colorType === COLOR_GRAY;
    const scale = 255 / mask; // 255, 85, 17: what PIL's 1, L;2 and L;4 unpackers produce
    return (line, count, out, start, step) => {
      for (let i = 0, o = start; i < count; i++, o += step) {
        const bit = i * bitDepth;
        const v = (line[bit >> 3] >> (8 - bitDepth - (bit & 7))) & mask;
        if (gray) {
          out[o] = out[o + 1] = out[o + 2] = v * scale;
        } else {
          out[o] = palette[v * 3];
          out[o + 1] = palette[v * 3 + 1];
          out[o + 2] = palette[v * 3 + 2];
        }
      }
    };
  }
  const bytesPerSample = bitDepth / 8;
  const stride = SAMPLES_PER_PIXEL[colorType] * bytesPerSample;
  switch (colorType) {
    case COLOR_PALETTE:
      return (line, count, out, start, step) => {
        for (let i = 0, o = start; i < count; i++, o += step) {
          const p = line[i] * 3;
          out[o] = palette[p];
          out[o + 1] = palette[p + 1];
          out[o + 2] = palette[p + 2];
        }
      };
    case COLOR_GRAY:
    case COLOR_GRAY_ALPHA:
      if (bitDepth === 16 && colorType === COLOR_GRAY) {
        return (line, count, out, start, step) => {
          for (let i = 0, s = 0, o = start; i < count; i++, s += stride, o += step) {
            out[o] = out[o + 1] = out[o + 2] = line[s] === 0 ? line[s + 1] : 255;
          }
        };
      }
      // 8-bit gray, and 16-bit gray+alpha whose high byte PIL keeps (LA;16B).
      return (line, count, out, start, step) => {
        for (let i = 0, s = 0, o = start; i < count; i++, s += stride, o += step) {
          out[o] = out[o + 1] = out[o + 2] = line[s];
        }
      };
    default: // RGB and RGBA, 8 or 16 bits: the first (high) byte of each of R, G, B.
      return (line, count, out, start, step) => {
        for (let i = 0, s = 0, o = start; i < count; i++, s += stride, o += step) {
          out[o] = line[s];
          out[o + 1] = line[s + bytesPerSample];
          out[o + 2] = line[s + 2 * bytesPerSample];
        }
      };
  }
}

/** Reverses the PNG filter of one scanline in place. `prev` is the previous unfiltered line (zeros for the first). */
function unfilter(filter: number, line: Uint8Array, prev: Uint8Array, length: number, bpp: number): void {
  switch (filter) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < length; i++) line[i] += line[i - bpp];
      return;
    case 2:
      for (let i = 0; i < length; i++) line[i] += prev[i];
      return;
    case 3:
      for (let i = 0; i < bpp; i++) line[i] += prev[i] >> 1;
      for (let i = bpp; i < length; i++) line[i] += (line[i - bpp] + prev[i]) >> 1;
      return;
    case 4:
      for (let i = 0; i < bpp; i++) line[i] += prev[i];
      for (let i = bpp; i < length; i++) {
        const a = line[i - bpp];
        const b = prev[i];
        const c = prev[i - bpp];
        const pa = Math.abs(b - c);
        const pb = Math.abs(a - c);
        const pc = Math.abs(a + b - 2 * c);
        line[i] += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      return;
    default:
      throw corrupt('PNG', `unknown scanline filter ${filter}`);
  }
}

interface Pass {
  xStart: number;
  yStart: number;
  xStep: number;
  yStep: number;
  width: number;
  height: number;
}

function passes(ihdr: Pick<Ihdr, 'width' | 'height' | 'interlaced'>): Pass[] {
  if (!ihdr.interlaced) return [{ xStart: 0, yStart: 0, xStep: 1, yStep: 1, width: ihdr.width, height: ihdr.height }];
  return ADAM7.map(([xStart, yStart, xStep, yStep]) => ({
    xStart,
    yStart,
    xStep,
    yStep,
    width: Math.max(0, Math.ceil((ihdr.width - xStart) / xStep)),
    height: Math.max(0, Math.ceil((ihdr.height - yStart) / yStep)),
  })).filter((pass) => pass.width > 0 && pass.height > 0);
}

/**
 * Consumes the inflated stream scanline by scanline; `done` once every scanline of every pass has been written.
 * Bytes after that are ignored (libpng and PIL ignore extra compressed data too).
 */
function scanlineSink(ihdr: Ihdr, palette: Uint8Array, out: Uint8Array) {
  const bitsPerPixel = SAMPLES_PER_PIXEL[ihdr.colorType] * ihdr.bitDepth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const passBytes = (width: number) => rowBytes(width, bitsPerPixel);
  const todo = passes(ihdr);
  const writeRow = rowWriter(ihdr, palette);
  const maxRow = passBytes(ihdr.width);
  let current = new Uint8Array(1 + maxRow);
  let previous = new Uint8Array(1 + maxRow);
  let passIndex = 0;
  let row = 0;
  let filled = 0;
  let lineLength = 1 + passBytes(todo[0].width);
  let work = 0;

  return {
    get done() {
      return passIndex === todo.length;
    },
    /** Work done so far, in pngWork's units. */
    get work() {
      return work;
    },
    push(data: Uint8Array): void {
      let offset = 0;
      while (passIndex < todo.length && offset < data.length) {
        const take = Math.min(lineLength - filled, data.length - offset);
        current.set(data.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled < lineLength) break;

        const pass = todo[passIndex];
        const line = current.subarray(1, lineLength);
        unfilter(current[0], line, previous.subarray(1, lineLength), lineLength - 1, bpp);
        const y = pass.yStart + row * pass.yStep;
        writeRow(line, pass.width, out, (y * ihdr.width + pass.xStart) * 3, pass.xStep * 3);
        work += ROW_WORK + pass.width + BYTE_WORK * lineLength;
        [current, previous] = [previous, current];
        filled = 0;
        if (++row === pass.height) {
          row = 0;
          passIndex++;
          if (passIndex < todo.length) {
            lineLength = 1 + passBytes(todo[passIndex].width);
            previous.fill(0); // each pass starts with an all-zero "previous" line
          }
        }
      }
    },
  };
}

/**
 * The IDAT data in INFLATE_SLICE pieces whatever the chunking: small chunks are copied together, so the number of
 * inflater writes follows the compressed size, not the chunk count.
 */
export function* coalescedSlices(idat: readonly Uint8Array[], size = INFLATE_SLICE): Generator<Uint8Array> {
  let pending = new Uint8Array(size);
  let filled = 0;
  for (const data of idat) {
    let offset = 0;
    while (offset < data.length) {
      if (filled === 0 && data.length - offset >= size) {
        yield data.subarray(offset, offset + size);
        offset += size;
        continue;
      }
      const take = Math.min(size - filled, data.length - offset);
      pending.set(data.subarray(offset, offset + take), filled);
      filled += take;
      offset += take;
      if (filled === size) {
        yield pending;
        pending = new Uint8Array(size); // the inflater may still hold the one just written
        filled = 0;
      }
    }
  }
  if (filled > 0) yield pending.subarray(0, filled);
}

/** Inflated data is handed to the sink in pieces this large at most, so a yield can come between any two. */
const PUSH_PIECE = 64 * 1024;

/**
 * Streams the zlib data of the IDAT chunks through the sink until every scanline is written, then stops: data past
 * the image (or a zlib bomb's tail) is never inflated. Reading pulls the inflater along, so it never runs ahead.
 * Yields to the event loop every few milliseconds of work (WorkYielder).
 */
async function inflateInto(idat: Uint8Array[], sink: ReturnType<typeof scanlineSink>): Promise<void> {
  const yielder = new WorkYielder();
  let counted = 0;
  const inflater = new DecompressionStream('deflate');
  const writer = inflater.writable.getWriter();
  const reader = inflater.readable.getReader();
  const writing = (async () => {
    for (const slice of coalescedSlices(idat)) await writer.write(slice);
    await writer.close();
  })();
  writing.catch(() => {}); // its failure surfaces on the reading side, or no longer matters once the image is done
  try {
    while (!sink.done) {
      const { value, done } = await reader.read();
      if (done) throw corrupt('PNG', 'the image data ends before the last scanline');
      for (let offset = 0; offset < value.length && !sink.done; offset += PUSH_PIECE) {
        sink.push(value.subarray(offset, offset + PUSH_PIECE));
        if (yielder.add(sink.work - counted)) await yielder.yield();
        counted = sink.work;
      }
    }
  } catch (error) {
    if (error instanceof ImageError) throw error;
    throw corrupt('PNG', error instanceof Error ? error.message : String(error), error);
  } finally {
    await reader.cancel().catch(() => {});
  }
}

async function decodePng(bytes: Uint8Array): Promise<StoredPixels> {
  let ihdr: Ihdr | undefined;
  let plte: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let maxIdat = 0;
  let others = 0;
  for (const chunk of chunks(bytes)) {
    if (!ihdr) {
      ihdr = parseIhdr(chunk);
      checkWork(
        'PNG',
        `${ihdr.width}×${ihdr.height}, ${ihdr.height} scanlines`,
        pngWork(ihdr),
        ihdr.width * ihdr.height,
      );
      maxIdat = maxIdatChunks(ihdr);
      continue;
    }
    if (chunk.type === 'IDAT') {
      if (idat.length === maxIdat) {
        throw new ImageError(
          'image-too-complex',
          `the PNG image data is split into more than ${maxIdat} IDAT chunks; a ${ihdr.width}×${ihdr.height} PNG needs no more than that`,
          { details: { limit: maxIdat } },
        );
      }
      idat.push(chunk.data);
      continue;
    }
    if (++others > MAX_METADATA_BLOCKS) throw tooManyBlocks('PNG', 'chunks besides IDAT');
    // Like PIL, check the checksums of the chunks that precede the image data.
    if (idat.length === 0 && chunk.complete && !chunk.crcMatches()) throw corrupt('PNG', `bad ${chunk.type} checksum`);
    if (chunk.type === 'PLTE' && !plte) {
      if (chunk.data.length % 3 !== 0 || chunk.data.length > 768) throw corrupt('PNG', 'invalid PLTE chunk');
      plte = chunk.data;
    }
  }
  if (!ihdr) throw corrupt('PNG', 'no IHDR chunk');
  if (ihdr.colorType === COLOR_PALETTE && !plte) throw corrupt('PNG', 'palette image without a PLTE chunk');
  if (idat.length === 0) throw corrupt('PNG', 'no image data (IDAT)');

  const palette = new Uint8Array(256 * 3);
  if (plte) palette.set(plte);
  const out = new Uint8Array(ihdr.width * ihdr.height * 3);
  const sink = scanlineSink(ihdr, palette, out);
  await inflateInto(idat, sink);
  return { width: ihdr.width, height: ihdr.height, channels: 3, data: out };
}

export const pngCodec: ImageCodec = {
  format: 'png',
  decode: decodePng,
};
