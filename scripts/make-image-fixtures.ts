/**
 * Generates the image decoding fixtures in test/fixtures/images/ (committed; rerun only to change them):
 * small images of every format and variant the decoders handle, made from one known synthetic RGB pattern, plus
 * EXIF orientation 1–8 JPEGs, truncated, corrupt and huge-header files, and a manifest.json that says what each
 * decodes to. Expected pixels never come from the project's decoders: they are the pattern itself, or sharp's
 * (libvips) decode of the file, turned into RGB by the rule PIL's convert('RGB') applies (alpha dropped, 16-bit high
 * byte, 16-bit gray saturated). Lossy files carry a stated tolerance (largest allowed per-sample difference).
 *
 * Most files are encoded by sharp. A few variants sharp cannot write are assembled here from raw bytes: 1/2/4-bit
 * gray PNG, PNG rows using every filter type, tRNS chunks, a GIF whose frame is offset inside the screen with a
 * local palette, an animated WebP container, and headers of JPEG variants we refuse.
 *
 *   npx tsx scripts/make-image-fixtures.ts
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';

const OUT_DIR = path.resolve(import.meta.dirname, '../test/fixtures/images');
/** Not a multiple of 8 in either direction, so Adam7 passes and JPEG blocks have ragged edges. Non-square. */
const WIDTH = 45;
const HEIGHT = 30;

type ErrorCode = 'unsupported-format' | 'corrupt-image' | 'too-many-pixels';

export interface FixtureEntry {
  file: string;
  format: 'jpeg' | 'png' | 'webp' | 'gif' | 'none';
  /** What the file exercises. */
  variant: string;
  /** Decoded (upright) size, for files that decode. */
  width?: number;
  height?: number;
  /** File in expected/ holding the upright RGB bytes the decode must produce. */
  expected?: string;
  /** Largest allowed |decoded - expected| per sample (0 = exact). */
  tolerance?: number;
  /** EXIF orientation the probe must report. */
  orientation?: number;
  /** The ImageError code decoding must throw (with maxPixels = HUGE_LIMIT for the huge-header files). */
  error?: ErrorCode;
}

/** The pixel limit the tests use for the huge-header fixtures (every other fixture is far below it). */
export const HUGE_LIMIT = 100_000_000;

const entries: FixtureEntry[] = [];
const expectedFiles = new Map<string, Uint8Array>();

// ---------------------------------------------------------------------------------------------------- patterns

function rgbPattern(): Uint8Array {
  const data = new Uint8Array(WIDTH * HEIGHT * 3);
  for (let y = 0, i = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++, i += 3) {
      data[i] = Math.round((x * 255) / (WIDTH - 1));
      data[i + 1] = Math.round((y * 255) / (HEIGHT - 1));
      data[i + 2] = (x * 11 + y * 23 + ((x * y) % 7) * 19) & 255;
    }
  }
  return data;
}

/** Alpha varying over the image, including fully transparent and fully opaque pixels. */
const alphaAt = (x: number, y: number) => ((x + 2 * y) % 4) * 85;

function withAlpha(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(WIDTH * HEIGHT * 4);
  for (let p = 0; p < WIDTH * HEIGHT; p++) {
    out.set(rgb.subarray(p * 3, p * 3 + 3), p * 4);
    out[p * 4 + 3] = alphaAt(p % WIDTH, Math.floor(p / WIDTH));
  }
  return out;
}

const grayOf = (rgb: Uint8Array) =>
  Uint8Array.from({ length: WIDTH * HEIGHT }, (_, p) => (rgb[p * 3] + 2 * rgb[p * 3 + 1] + rgb[p * 3 + 2]) >> 2);

/** 16-bit samples whose low byte is often ≥ 128, so "high byte" and "rounded to 8 bits" differ. */
const widen = (samples: Uint8Array) => Uint16Array.from(samples, (v, i) => v * 256 + ((i * 97 + 200) & 255));

/** 16-bit gray spanning 0–599: PIL's I;16 → RGB keeps values below 256 and saturates the rest. */
const gray16Pattern = () => Uint16Array.from({ length: WIDTH * HEIGHT }, (_, p) => (p * 13) % 600);

const grayToRgb = (gray: Uint8Array) => Uint8Array.from({ length: gray.length * 3 }, (_, i) => gray[Math.floor(i / 3)]);

// ---------------------------------------------------------------------------------------------------- helpers

function expectedName(rgb: Uint8Array): string {
  const name = `${createHash('sha256').update(rgb).digest('hex').slice(0, 12)}.rgb`;
  expectedFiles.set(name, rgb);
  return name;
}

function write(file: string, bytes: Uint8Array): void {
  writeFileSync(path.join(OUT_DIR, file), bytes);
}

function addDecodable(
  file: string,
  bytes: Uint8Array,
  format: FixtureEntry['format'],
  variant: string,
  expected: RgbResult,
  extra: Partial<FixtureEntry> = {},
): void {
  write(file, bytes);
  const { width, height } = expected;
  entries.push({ file, format, variant, width, height, expected: expectedName(expected.data), tolerance: 0, ...extra });
}

function addFailing(
  file: string,
  bytes: Uint8Array,
  format: FixtureEntry['format'],
  variant: string,
  error: ErrorCode,
): void {
  write(file, bytes);
  entries.push({ file, format, variant, error });
}

interface RgbResult {
  width: number;
  height: number;
  data: Uint8Array;
}

const raw = (data: Uint8Array | Uint16Array, channels: 1 | 2 | 3 | 4, width = WIDTH, height = HEIGHT) =>
  sharp(data, { raw: { width, height, channels } });

/**
 * sharp's 8-bit decode of `bytes`, upright when `autoOrient`, made RGB the way PIL's convert('RGB') does: extra
 * samples (alpha) dropped, gray replicated. (16-bit files get their expected pixels from their source samples.)
 */
async function sharpDecodeAsPil(bytes: Uint8Array, autoOrient = false): Promise<RgbResult> {
  const image = sharp(bytes);
  const { data, info } = await (autoOrient ? image.rotate() : image).raw().toBuffer({ resolveWithObject: true });
  const channels = info.channels;
  const gray = channels <= 2;
  const out = new Uint8Array(info.width * info.height * 3);
  for (let p = 0; p < info.width * info.height; p++) {
    for (let c = 0; c < 3; c++) out[p * 3 + c] = data[p * channels + (gray ? 0 : c)];
  }
  return { width: info.width, height: info.height, data: out };
}

// ---------------------------------------------------------------------------------------------------- PNG assembly

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(Buffer.from(type, 'latin1'), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function splitPng(bytes: Uint8Array): { type: string; data: Uint8Array }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: { type: string; data: Uint8Array }[] = [];
  for (let o = 8; o < bytes.length; ) {
    const length = view.getUint32(o);
    chunks.push({
      type: Buffer.from(bytes.subarray(o + 4, o + 8)).toString('latin1'),
      data: bytes.subarray(o + 8, o + 8 + length),
    });
    o += 12 + length;
  }
  return chunks;
}

const PNG_SIGNATURE = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function joinPng(chunks: { type: string; data: Uint8Array }[]): Uint8Array {
  return Buffer.concat([PNG_SIGNATURE, ...chunks.map((c) => pngChunk(c.type, c.data))]);
}

function ihdr(width: number, height: number, bitDepth: number, colorType: number, interlace = 0): Uint8Array {
  const data = new Uint8Array(13);
  const view = new DataView(data.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  data.set([bitDepth, colorType, 0, 0, interlace], 8);
  return data;
}

function paeth(a: number, b: number, c: number): number {
  const pa = Math.abs(b - c);
  const pb = Math.abs(a - c);
  const pc = Math.abs(a + b - 2 * c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** A non-interlaced PNG from packed rows, row y filtered with filterOf(y) (0 None … 4 Paeth). */
function assemblePng(
  header: Uint8Array,
  rows: Uint8Array[],
  bytesPerPixel: number,
  filterOf: (y: number) => number,
): Uint8Array {
  const filtered: number[] = [];
  let previous: Uint8Array = new Uint8Array(rows[0].length);
  for (const [y, row] of rows.entries()) {
    const filter = filterOf(y);
    filtered.push(filter);
    for (let i = 0; i < row.length; i++) {
      const left = i >= bytesPerPixel ? row[i - bytesPerPixel] : 0;
      const up = previous[i];
      const upLeft = i >= bytesPerPixel ? previous[i - bytesPerPixel] : 0;
      const predicted = [0, left, up, (left + up) >> 1, paeth(left, up, upLeft)][filter];
      filtered.push((row[i] - predicted) & 255);
    }
    previous = row;
  }
  return joinPng([
    { type: 'IHDR', data: header },
    { type: 'IDAT', data: deflateSync(new Uint8Array(filtered)) },
    { type: 'IEND', data: new Uint8Array(0) },
  ]);
}

/** Rows of `bits`-bit gray samples, packed most significant bit first. */
function packGrayRows(levels: Uint8Array, bits: number): Uint8Array[] {
  const rows: Uint8Array[] = [];
  for (let y = 0; y < HEIGHT; y++) {
    const row = new Uint8Array(Math.ceil((WIDTH * bits) / 8));
    for (let x = 0; x < WIDTH; x++) {
      const bit = x * bits;
      row[bit >> 3] |= levels[y * WIDTH + x] << (8 - bits - (bit & 7));
    }
    rows.push(row);
  }
  return rows;
}

/** Inserts chunks right after IHDR (where tRNS, PLTE and friends belong) of a PNG sharp wrote. */
function insertAfterIhdr(png: Uint8Array, inserted: { type: string; data: Uint8Array }[]): Uint8Array {
  const [first, ...rest] = splitPng(png);
  return joinPng([first, ...inserted, ...rest]);
}

// ---------------------------------------------------------------------------------------------------- GIF assembly

/**
 * LZW data that uses only literal codes, with a clear code often enough that the code size never grows: valid GIF
 * any decoder reads, with an obviously known result. (sharp's GIFs exercise real LZW dictionaries.)
 */
function literalLzw(indices: Uint8Array, minCodeSize: number): Uint8Array {
  const clear = 1 << minCodeSize;
  const codeSize = minCodeSize + 1;
  const out: number[] = [];
  let bits = 0;
  let count = 0;
  const emit = (code: number) => {
    bits |= code << count;
    count += codeSize;
    while (count >= 8) {
      out.push(bits & 255);
      bits >>>= 8;
      count -= 8;
    }
  };
  const perClear = clear - 3; // codes clear+2 … 2^codeSize-1 stay unused, so no code-size change
  indices.forEach((index, i) => {
    if (i % perClear === 0) emit(clear);
    emit(index);
  });
  emit(clear + 1);
  if (count > 0) out.push(bits & 255);
  return new Uint8Array(out);
}

function subBlocks(data: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < data.length; i += 255) {
    const block = data.subarray(i, i + 255);
    out.push(block.length, ...block);
  }
  out.push(0);
  return out;
}

const u16le = (v: number) => [v & 255, v >> 8];

// ---------------------------------------------------------------------------------------------------- fixtures

async function pngFixtures(rgb: Uint8Array): Promise<void> {
  const rgba = withAlpha(rgb);
  const gray = grayOf(rgb);
  const grayAlpha = Uint8Array.from({ length: WIDTH * HEIGHT * 2 }, (_, i) =>
    i % 2 ? rgba[(i >> 1) * 4 + 3] : gray[i >> 1],
  );
  const patternResult = { width: WIDTH, height: HEIGHT, data: rgb };
  const grayResult = { width: WIDTH, height: HEIGHT, data: grayToRgb(gray) };

  const rgb8 = await raw(rgb, 3).png().toBuffer();
  addDecodable('png-rgb8.png', rgb8, 'png', 'RGB 8-bit', patternResult);
  addDecodable(
    'png-rgb8-interlaced.png',
    await raw(rgb, 3).png({ progressive: true }).toBuffer(),
    'png',
    'RGB 8-bit, Adam7',
    patternResult,
  );
  addDecodable(
    'png-rgba8.png',
    await raw(rgba, 4).png().toBuffer(),
    'png',
    'RGBA 8-bit (alpha dropped)',
    patternResult,
  );
  addDecodable(
    'png-rgba8-interlaced.png',
    await raw(rgba, 4).png({ progressive: true }).toBuffer(),
    'png',
    'RGBA 8-bit, Adam7',
    patternResult,
  );
  addDecodable('png-gray8.png', await raw(gray, 1).png().toBuffer(), 'png', 'gray 8-bit', grayResult);
  addDecodable('png-gray-alpha8.png', await raw(grayAlpha, 2).png().toBuffer(), 'png', 'gray+alpha 8-bit', grayResult);

  // 16-bit: PIL keeps the high byte of colour samples and saturates 16-bit gray at 255. The expected pixels follow
  // from the source samples; sharp's 16-bit decode confirms the file holds exactly those samples.
  const rgb16 = widen(rgb);
  const rgba16 = widen(rgba);
  const gray16 = gray16Pattern();
  const grayAlpha16 = widen(grayAlpha);
  const saturatedGray = grayToRgb(Uint8Array.from(gray16, (v) => Math.min(v, 255)));
  const highGray = grayToRgb(Uint8Array.from({ length: WIDTH * HEIGHT }, (_, p) => grayAlpha16[p * 2] >> 8));
  for (const [file, samples, channels, space, options, variant, expected] of [
    ['png-rgb16.png', rgb16, 3, 'rgb16', {}, 'RGB 16-bit (high byte)', rgb],
    ['png-rgba16.png', rgba16, 4, 'rgb16', {}, 'RGBA 16-bit (high byte)', rgb],
    ['png-gray16.png', gray16, 1, 'grey16', {}, 'gray 16-bit (saturates at 255, as PIL I;16)', saturatedGray],
    ['png-gray16-interlaced.png', gray16, 1, 'grey16', { progressive: true }, 'gray 16-bit, Adam7', saturatedGray],
    ['png-gray-alpha16.png', grayAlpha16, 2, 'grey16', {}, 'gray+alpha 16-bit (high byte)', highGray],
  ] as const) {
    const bytes = await raw(samples, channels).toColourspace(space).png(options).toBuffer();
    const { data, info } = await sharp(bytes)
      .toColourspace(space)
      .raw({ depth: 'ushort' })
      .toBuffer({ resolveWithObject: true });
    const stored = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    if (info.channels !== channels || stored.some((v, i) => v !== samples[i]))
      throw new Error(`${file}: sharp did not store the 16-bit samples`);
    addDecodable(file, bytes, 'png', variant, { width: WIDTH, height: HEIGHT, data: expected });
  }
  if (rgb16.some((v, i) => v >> 8 !== rgb[i])) throw new Error('16-bit pattern: high bytes must be the 8-bit pattern');
  if (!rgb16.some((v) => (v & 255) >= 128)) throw new Error('16-bit pattern: low bytes must sometimes round up');

  // Palettes: colours chosen by sharp's quantizer, so the expected pixels are sharp's decode (the palette colours).
  // sharp picks the bit depth from the number of colours.
  const ihdrDepth = (png: Uint8Array) => png[24];
  for (const bitdepth of [1, 2, 4, 8] as const) {
    const bytes = await raw(rgb, 3)
      .png({ palette: true, colours: 1 << bitdepth, dither: 0 })
      .toBuffer();
    if (ihdrDepth(bytes) !== bitdepth || bytes[25] !== 3)
      throw new Error(`palette${bitdepth}: sharp wrote depth ${ihdrDepth(bytes)}`);
    addDecodable(`png-palette${bitdepth}.png`, bytes, 'png', `palette ${bitdepth}-bit`, await sharpDecodeAsPil(bytes));
  }
  const palette4Interlaced = await raw(rgb, 3)
    .png({ palette: true, colours: 16, dither: 0, progressive: true })
    .toBuffer();
  if (ihdrDepth(palette4Interlaced) !== 4 || palette4Interlaced[28] !== 1)
    throw new Error('sharp did not write a 4-bit Adam7 palette PNG');
  addDecodable(
    'png-palette4-interlaced.png',
    palette4Interlaced,
    'png',
    'palette 4-bit, Adam7',
    await sharpDecodeAsPil(palette4Interlaced),
  );
  const paletteAlpha = await raw(rgba, 4).png({ palette: true, colours: 64, dither: 0 }).toBuffer();
  if (!splitPng(paletteAlpha).some((c) => c.type === 'tRNS'))
    throw new Error('sharp wrote no tRNS for the RGBA palette');
  addDecodable(
    'png-palette-trns.png',
    paletteAlpha,
    'png',
    'palette with tRNS alpha (palette colour kept)',
    await sharpDecodeAsPil(paletteAlpha),
  );

  // Sub-byte gray: 1, 2 and 4 bits, scaled to 0–255 as PIL's 1, L;2 and L;4 modes do.
  for (const bits of [1, 2, 4]) {
    const max = (1 << bits) - 1;
    const levels = Uint8Array.from(gray, (v) => Math.round((v * max) / 255));
    const bytes = assemblePng(ihdr(WIDTH, HEIGHT, bits, 0), packGrayRows(levels, bits), 1, () => 0);
    const expected = grayToRgb(Uint8Array.from(levels, (v) => (v * 255) / max));
    addDecodable(`png-gray${bits}.png`, bytes, 'png', `gray ${bits}-bit`, {
      width: WIDTH,
      height: HEIGHT,
      data: expected,
    });
  }

  // Every filter type, row by row.
  const rows = Array.from({ length: HEIGHT }, (_, y) => rgb.subarray(y * WIDTH * 3, (y + 1) * WIDTH * 3));
  const allFilters = assemblePng(ihdr(WIDTH, HEIGHT, 8, 2), rows, 3, (y) => y % 5);
  addDecodable(
    'png-rgb8-filters.png',
    allFilters,
    'png',
    'RGB 8-bit, filters None/Sub/Up/Average/Paeth',
    patternResult,
  );

  // tRNS on gray and truecolour images: PIL's convert('RGB') ignores it.
  const grayTrns = insertAfterIhdr(await raw(gray, 1).png().toBuffer(), [
    { type: 'tRNS', data: new Uint8Array([0, gray[0]]) },
  ]);
  addDecodable('png-gray8-trns.png', grayTrns, 'png', 'gray 8-bit with tRNS colour key', grayResult);
  const rgbTrns = insertAfterIhdr(rgb8, [{ type: 'tRNS', data: new Uint8Array([0, rgb[0], 0, rgb[1], 0, rgb[2]]) }]);
  addDecodable('png-rgb8-trns.png', rgbTrns, 'png', 'RGB 8-bit with tRNS colour key', patternResult);

  // Image data split over many IDAT chunks (the zlib stream continues across them).
  const chunks = splitPng(rgb8);
  const idat = Buffer.concat(chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
  const pieces = Array.from({ length: Math.ceil(idat.length / 100) }, (_, i) => ({
    type: 'IDAT',
    data: idat.subarray(i * 100, (i + 1) * 100),
  }));
  const multiIdat = joinPng([
    ...chunks.filter((c) => c.type !== 'IDAT' && c.type !== 'IEND'),
    ...pieces,
    { type: 'IEND', data: new Uint8Array(0) },
  ]);
  addDecodable('png-rgb8-multi-idat.png', multiIdat, 'png', 'RGB 8-bit, IDAT in 100-byte chunks', patternResult);

  // Far more zlib data than the image needs (16 MiB of zeros for 45×30 gray): the excess is ignored, as libpng and
  // PIL ignore it, and must not be inflated.
  const excess = joinPng([
    { type: 'IHDR', data: ihdr(WIDTH, HEIGHT, 8, 0) },
    { type: 'IDAT', data: deflateSync(new Uint8Array(16 * 1024 * 1024), { level: 9 }) },
    { type: 'IEND', data: new Uint8Array(0) },
  ]);
  const black = { width: WIDTH, height: HEIGHT, data: new Uint8Array(WIDTH * HEIGHT * 3) };
  addDecodable('png-excess-data.png', excess, 'png', 'IDAT inflating to 16 MiB for a 45×30 image (black)', black);

  const exif6 = await raw(rgb, 3).withMetadata({ orientation: 6 }).png().toBuffer();
  addDecodable('png-exif6.png', exif6, 'png', 'RGB 8-bit, eXIf orientation 6', await sharpDecodeAsPil(exif6, true), {
    orientation: 6,
  });

  // Failures.
  addFailing(
    'png-truncated.png',
    rgb8.subarray(0, Math.floor(rgb8.length * 0.6)),
    'png',
    'cut inside the image data',
    'corrupt-image',
  );
  const badCrc = Uint8Array.from(rgb8);
  badCrc[29] ^= 0xff; // last byte of the IHDR CRC
  addFailing('png-bad-crc.png', badCrc, 'png', 'IHDR checksum wrong', 'corrupt-image');
  const garbage = Uint8Array.from({ length: 200 }, (_, i) => (i * 73 + 41) & 255);
  const iend = { type: 'IEND', data: new Uint8Array(0) };
  const badZlib = joinPng([chunks[0], { type: 'IDAT', data: Uint8Array.of(0x78, 0x9c, ...garbage) }, iend]);
  addFailing('png-bad-zlib.png', badZlib, 'png', 'IDAT is not valid deflate data', 'corrupt-image');
  const huge = joinPng([{ type: 'IHDR', data: ihdr(100_000, 100_000, 8, 2) }, iend]);
  addFailing('png-huge.png', huge, 'png', 'IHDR says 100000×100000, no image data', 'too-many-pixels');
}

async function gifFixtures(rgb: Uint8Array): Promise<void> {
  const basic = await raw(rgb, 3).gif({ dither: 0 }).toBuffer();
  addDecodable('gif-basic.gif', basic, 'gif', 'GIF, global palette', await sharpDecodeAsPil(basic));
  const interlaced = await raw(rgb, 3).gif({ dither: 0, progressive: true }).toBuffer();
  const descriptor = interlaced.indexOf(0x2c, 13 + 3 * (2 << (interlaced[10] & 7)));
  if (!(interlaced[descriptor + 9] & 0x40)) throw new Error('sharp did not interlace the GIF');
  addDecodable('gif-interlaced.gif', interlaced, 'gif', 'GIF, interlaced', await sharpDecodeAsPil(interlaced));

  // Transparency: PIL keeps the palette colour of transparent pixels; sharp reports them with alpha 0, so the
  // expected colour for those comes from the palette in the file.
  const rgba = withAlpha(rgb);
  for (let p = 0; p < WIDTH * HEIGHT; p++) rgba[p * 4 + 3] = rgba[p * 4 + 3] === 0 ? 0 : 255;
  const transparent = await raw(rgba, 4).gif({ dither: 0 }).toBuffer();
  const gce = transparent.indexOf(Buffer.from([0x21, 0xf9, 0x04]));
  if (gce < 0 || !(transparent[gce + 3] & 1)) throw new Error('sharp wrote no transparent index');
  const transparentIndex = transparent[gce + 6];
  const paletteColour = transparent.subarray(13 + transparentIndex * 3, 13 + transparentIndex * 3 + 3);
  const { data: sharpRgba } = await sharp(transparent).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const expected = new Uint8Array(WIDTH * HEIGHT * 3);
  for (let p = 0; p < WIDTH * HEIGHT; p++) {
    expected.set(sharpRgba[p * 4 + 3] === 0 ? paletteColour : sharpRgba.subarray(p * 4, p * 4 + 3), p * 3);
  }
  const transparentResult = { width: WIDTH, height: HEIGHT, data: expected };
  addDecodable(
    'gif-transparent.gif',
    transparent,
    'gif',
    'GIF with a transparent index (palette colour kept)',
    transparentResult,
  );

  // A frame smaller than the screen, offset, with a local palette, a transparent index and interlacing. Outside the
  // frame PIL shows the transparent index's colour (its fill); inside, every index keeps its colour.
  const frame = { x: 7, y: 5, width: 30, height: 17 };
  const localPalette = Uint8Array.from(
    { length: 8 * 3 },
    (_, i) => [10, 200, 30, 250, 90, 160, 60, 120][Math.floor(i / 3)] ^ ((i % 3) * 37),
  );
  const transparentSlot = 5;
  const indices = Uint8Array.from(
    { length: frame.width * frame.height },
    (_, i) => (i * 5 + Math.floor(i / frame.width)) % 8,
  );
  const rowOrder = [
    [0, 8],
    [4, 8],
    [2, 4],
    [1, 2],
  ].flatMap(([start, step]) =>
    Array.from({ length: Math.max(0, Math.ceil((frame.height - start) / step)) }, (_, k) => start + k * step),
  );
  const interlacedIndices = new Uint8Array(indices.length);
  rowOrder.forEach((row, i) =>
    interlacedIndices.set(indices.subarray(row * frame.width, (row + 1) * frame.width), i * frame.width),
  );
  const hand = new Uint8Array([
    ...Buffer.from('GIF89a'),
    ...u16le(WIDTH),
    ...u16le(HEIGHT),
    0x80,
    0,
    0, // global palette of 2 colours
    255,
    255,
    255,
    0,
    0,
    0,
    0x21,
    0xf9,
    4,
    1,
    0,
    0,
    transparentSlot,
    0,
    0x2c,
    ...u16le(frame.x),
    ...u16le(frame.y),
    ...u16le(frame.width),
    ...u16le(frame.height),
    0x80 | 0x40 | 2,
    ...localPalette,
    3,
    ...subBlocks(literalLzw(interlacedIndices, 3)),
    0x3b,
  ]);
  const handExpected = new Uint8Array(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      const inside = x >= frame.x && x < frame.x + frame.width && y >= frame.y && y < frame.y + frame.height;
      const index = inside ? indices[(y - frame.y) * frame.width + (x - frame.x)] : transparentSlot;
      handExpected.set(localPalette.subarray(index * 3, index * 3 + 3), (y * WIDTH + x) * 3);
    }
  }
  const variant = 'GIF frame offset in the screen, local palette, transparency, interlaced';
  addDecodable('gif-offset-frame.gif', hand, 'gif', variant, { width: WIDTH, height: HEIGHT, data: handExpected });

  addFailing(
    'gif-truncated.gif',
    basic.subarray(0, Math.floor(basic.length * 0.6)),
    'gif',
    'cut inside the image data',
    'corrupt-image',
  );
  // Codes 4, 7, 7, 6, 7: makes a code-table entry its own prefix; omggif loops forever on it.
  const loopCodes = [
    [4, 3],
    [7, 3],
    [7, 3],
    [6, 3],
    [7, 4],
    [5, 4],
  ];
  let bits = 0;
  let count = 0;
  const lzw: number[] = [];
  for (const [code, size] of loopCodes) {
    bits |= code << count;
    count += size;
    while (count >= 8) {
      lzw.push(bits & 255);
      bits >>= 8;
      count -= 8;
    }
  }
  if (count) lzw.push(bits & 255);
  addFailing(
    'gif-lzw-cycle.gif',
    new Uint8Array([
      ...Buffer.from('GIF89a'),
      4,
      0,
      4,
      0,
      0x81,
      0,
      0,
      0,
      0,
      0,
      255,
      0,
      0,
      0,
      255,
      0,
      0,
      0,
      255,
      0x2c,
      0,
      0,
      0,
      0,
      4,
      0,
      4,
      0,
      0,
      2,
      lzw.length,
      ...lzw,
      0,
      0x3b,
    ]),
    'gif',
    'LZW code defined in terms of itself',
    'corrupt-image',
  );
  const huge = new Uint8Array([
    ...Buffer.from('GIF89a'),
    255,
    255,
    255,
    255,
    0,
    0,
    0,
    0x2c,
    0,
    0,
    0,
    0,
    255,
    255,
    255,
    255,
    0,
    8,
    0,
    0x3b,
  ]);
  addFailing('gif-huge.gif', huge, 'gif', 'screen 65535×65535', 'too-many-pixels');
}

async function webpFixtures(rgb: Uint8Array): Promise<void> {
  const rgba = withAlpha(rgb);
  const lossless = await raw(rgb, 3).webp({ lossless: true }).toBuffer();
  addDecodable('webp-lossless.webp', lossless, 'webp', 'lossless', { width: WIDTH, height: HEIGHT, data: rgb });
  // libwebp may change the colour of fully transparent pixels when encoding, so the expected pixels are sharp's decode.
  const losslessAlpha = await raw(rgba, 4).webp({ lossless: true }).toBuffer();
  addDecodable(
    'webp-lossless-alpha.webp',
    losslessAlpha,
    'webp',
    'lossless with alpha (dropped)',
    await sharpDecodeAsPil(losslessAlpha),
  );
  for (const [file, bytes, variant] of [
    ['webp-lossy.webp', await raw(rgb, 3).webp({ quality: 90 }).toBuffer(), 'lossy'],
    ['webp-lossy-alpha.webp', await raw(rgba, 4).webp({ quality: 90 }).toBuffer(), 'lossy with alpha (dropped)'],
  ] as const) {
    addDecodable(file, bytes, 'webp', variant, await sharpDecodeAsPil(bytes), { tolerance: LOSSY_TOLERANCE });
  }
  const exif6 = await raw(rgb, 3).withMetadata({ orientation: 6 }).webp({ lossless: true }).toBuffer();
  addDecodable('webp-exif6.webp', exif6, 'webp', 'lossless, EXIF orientation 6', await sharpDecodeAsPil(exif6, true), {
    orientation: 6,
  });

  // Animated: VP8X with the animation flag, ANIM, and two ANMF frames wrapping the lossless bitstream.
  const vp8l = lossless.subarray(12);
  const riffChunk = (id: string, data: Uint8Array) => {
    const header = new Uint8Array(8);
    header.set(Buffer.from(id, 'latin1'));
    new DataView(header.buffer).setUint32(4, data.length, true);
    return Buffer.concat([header, data, new Uint8Array(data.length & 1)]);
  };
  const u24 = (v: number) => [v & 255, (v >> 8) & 255, v >> 16];
  const anmf = riffChunk(
    'ANMF',
    Buffer.concat([new Uint8Array([0, 0, 0, 0, 0, 0, ...u24(WIDTH - 1), ...u24(HEIGHT - 1), 100, 0, 0, 0]), vp8l]),
  );
  const body = Buffer.concat([
    Buffer.from('WEBP'),
    riffChunk('VP8X', new Uint8Array([0x02, 0, 0, 0, ...u24(WIDTH - 1), ...u24(HEIGHT - 1)])),
    riffChunk('ANIM', new Uint8Array([0, 0, 0, 0, 0, 0])),
    anmf,
    anmf,
  ]);
  const riff = Buffer.concat([Buffer.from('RIFF'), Buffer.from(Uint32Array.of(body.length).buffer), body]);
  addFailing('webp-animated.webp', riff, 'webp', 'animated (VP8X animation flag)', 'unsupported-format');

  const lossy = await raw(rgb, 3).webp({ quality: 90 }).toBuffer();
  addFailing(
    'webp-truncated.webp',
    lossy.subarray(0, Math.floor(lossy.length * 0.6)),
    'webp',
    'cut inside the VP8 data',
    'corrupt-image',
  );
  const corruptLossless = Uint8Array.from(lossless);
  for (let i = 30; i < corruptLossless.length; i += 3) corruptLossless[i] ^= 0x5a;
  addFailing('webp-corrupt.webp', corruptLossless, 'webp', 'VP8L bitstream scrambled', 'corrupt-image');
  const hugeCanvas = riffChunk('VP8X', new Uint8Array([0, 0, 0, 0, ...u24(16383), ...u24(16383)]));
  const huge = Buffer.concat([
    Buffer.from('RIFF'),
    Buffer.from(Uint32Array.of(22).buffer),
    Buffer.from('WEBP'),
    hugeCanvas,
  ]);
  addFailing('webp-huge.webp', huge, 'webp', 'VP8X canvas 16384×16384, no image data', 'too-many-pixels');
}

/** Largest per-sample difference allowed between our lossy decodes and sharp's (different libwebp versions). */
const LOSSY_TOLERANCE = 2;

async function jpegFixtures(rgb: Uint8Array): Promise<void> {
  const variants = [
    ['jpeg-baseline.jpg', raw(rgb, 3).jpeg({ quality: 85 }), 'baseline, 4:2:0'],
    ['jpeg-444.jpg', raw(rgb, 3).jpeg({ quality: 85, chromaSubsampling: '4:4:4' }), 'baseline, 4:4:4'],
    ['jpeg-progressive.jpg', raw(rgb, 3).jpeg({ quality: 85, progressive: true }), 'progressive, 4:2:0'],
    ['jpeg-gray.jpg', raw(grayOf(rgb), 1).jpeg({ quality: 85 }), 'grayscale (1 component)'],
  ] as const;
  for (const [file, pipeline, variant] of variants) {
    const bytes = await pipeline.toBuffer();
    addDecodable(file, bytes, 'jpeg', variant, await sharpDecodeAsPil(bytes), { tolerance: JPEG_TOLERANCE });
  }
  for (let orientation = 1; orientation <= 8; orientation++) {
    const bytes = await raw(rgb, 3).withMetadata({ orientation }).jpeg({ quality: 85 }).toBuffer();
    const upright = await sharpDecodeAsPil(bytes, true);
    const extra = { tolerance: JPEG_TOLERANCE, orientation };
    addDecodable(`jpeg-exif${orientation}.jpg`, bytes, 'jpeg', `EXIF orientation ${orientation}`, upright, extra);
  }
  const cmyk = await raw(rgb, 3).toColourspace('cmyk').jpeg({ quality: 85 }).toBuffer();
  addFailing('jpeg-cmyk.jpg', cmyk, 'jpeg', 'CMYK (4 components)', 'unsupported-format');

  const baseline = await raw(rgb, 3).jpeg({ quality: 85 }).toBuffer();
  // Frame headers of variants we refuse, after SOI: SOF3 (lossless), SOF1 with 12-bit samples, SOF9 (arithmetic).
  const frameHeader = (marker: number, precision: number, height = HEIGHT, width = WIDTH) =>
    new Uint8Array([
      0xff,
      0xd8,
      0xff,
      marker,
      0,
      11,
      precision,
      ...u16be(height),
      ...u16be(width),
      1,
      1,
      0x11,
      0,
      0xff,
      0xd9,
    ]);
  addFailing('jpeg-lossless.jpg', frameHeader(0xc3, 8), 'jpeg', 'lossless (SOF3) frame header', 'unsupported-format');
  addFailing(
    'jpeg-12bit.jpg',
    frameHeader(0xc1, 12),
    'jpeg',
    '12-bit samples (SOF1) frame header',
    'unsupported-format',
  );
  addFailing(
    'jpeg-arithmetic.jpg',
    frameHeader(0xc9, 8),
    'jpeg',
    'arithmetic-coded (SOF9) frame header',
    'unsupported-format',
  );
  addFailing(
    'jpeg-truncated.jpg',
    baseline.subarray(0, Math.floor(baseline.length * 0.6)),
    'jpeg',
    'cut inside the scan',
    'corrupt-image',
  );
  const sos = baseline.indexOf(Buffer.from([0xff, 0xda]));
  const badMarker = Buffer.concat([
    baseline.subarray(0, sos),
    Buffer.from([0xff, 0xc4, 0x00, 0x01]),
    baseline.subarray(sos),
  ]);
  addFailing('jpeg-bad-marker.jpg', badMarker, 'jpeg', 'DHT segment with length 1', 'corrupt-image');
  addFailing(
    'jpeg-huge.jpg',
    frameHeader(0xc0, 8, 65520, 65520),
    'jpeg',
    'SOF0 says 65520×65520, no scan',
    'too-many-pixels',
  );
}

const u16be = (v: number) => [v >> 8, v & 255];

/** Largest per-sample difference allowed between our JPEG decodes and sharp's (both mozjpeg; expected exact). */
const JPEG_TOLERANCE = 0;

function otherFixtures(): void {
  addFailing(
    'not-an-image.txt',
    new TextEncoder().encode('This is a text file, not an image.\n'),
    'none',
    'plain text',
    'unsupported-format',
  );
  const bmp = new Uint8Array([0x42, 0x4d, 0x3a, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28, 0, 0, 0]);
  addFailing('bmp-header.bmp', bmp, 'none', 'BMP signature', 'unsupported-format');
  addFailing('empty.bin', new Uint8Array(0), 'none', 'zero bytes', 'unsupported-format');
}

async function main(): Promise<void> {
  rmSync(OUT_DIR, { recursive: true, force: true });
  mkdirSync(path.join(OUT_DIR, 'expected'), { recursive: true });
  const rgb = rgbPattern();
  await pngFixtures(rgb);
  await gifFixtures(rgb);
  await webpFixtures(rgb);
  await jpegFixtures(rgb);
  otherFixtures();

  const manifest = {
    width: WIDTH,
    height: HEIGHT,
    hugeLimit: HUGE_LIMIT,
    pattern: expectedName(rgb),
    fixtures: entries,
  };
  for (const [name, data] of expectedFiles) writeFileSync(path.join(OUT_DIR, 'expected', name), data);
  writeFileSync(path.join(OUT_DIR, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);

  let total = 0;
  for (const dir of [OUT_DIR, path.join(OUT_DIR, 'expected')]) {
    for (const name of readdirSync(dir, { withFileTypes: true })) {
      if (name.isFile()) total += statSync(path.join(dir, name.name)).size;
    }
  }
  const where = path.relative(process.cwd(), OUT_DIR);
  console.log(
    `${entries.length} fixtures, ${expectedFiles.size} expected files, ${(total / 1024).toFixed(1)} KiB in ${where}`,
  );
}

await main();
