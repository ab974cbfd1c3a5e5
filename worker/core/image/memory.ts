/**
 * The memory one image's decode takes at its peak, as each codec states it from the header alone (before any
 * decoding): the decoder's working buffers (wasm memory included), the pixels it returns, and the upright copy that
 * toUprightRgb makes for EXIF orientations 2–8. decode.ts refuses an image whose statement exceeds the decode budget.
 *
 * A statement is linear in the stored pixel count (width × height from the header), so the largest image of the
 * same kind that fits a budget follows from it directly. Terms that depend on the width alone (row buffers) or on the
 * file size (a copy of the file in a wasm heap) are computed for this image and counted as fixed.
 */
export const MiB = 1024 * 1024;

/**
 * What the engine adds around any decode of a large image: compiled code for its loops, heap growth for small
 * objects. Measured in Node (bench:decode-memory): up to ~1.4 MiB beyond the buffers of a 16 MP GIF.
 */
export const ENGINE_OVERHEAD_BYTES = 2 * MiB;

/** toUprightRgb's output for orientations 2–8: a new RGB buffer (orientation 1 converts in place). */
export const UPRIGHT_COPY_BYTES_PER_PIXEL = 3;

export interface DecodeMemory {
  /** What the statement assumed, for messages: e.g. "PNG", "progressive JPEG 4:2:0 at 1/4", "lossless WebP". */
  variant: string;
  /** Bytes per stored pixel. */
  bytesPerPixel: number;
  /** Bytes that do not grow with the pixel count, for this image. */
  fixedBytes: number;
}

/** The statement's bytes for `pixels` stored pixels. */
export function decodeMemoryBytes(memory: DecodeMemory, pixels: number): number {
  return Math.ceil(memory.bytesPerPixel * pixels + memory.fixedBytes);
}

/** The most stored pixels an image of this kind can have within `budgetBytes` (0 when not even the fixed part fits). */
export function maxPixelsWithin(memory: DecodeMemory, budgetBytes: number): number {
  return Math.max(0, Math.floor((budgetBytes - memory.fixedBytes) / memory.bytesPerPixel));
}

/**
 * `bytes` per pixel of an output of ⌈width/scale⌉ × ⌈height/scale⌉ pixels, as a statement per stored pixel: the
 * rounding up adds at most (width + height)/scale + 1 pixels, counted as fixed.
 */
export function perOutputPixel(
  bytes: number,
  width: number,
  height: number,
  scaleDenom: number,
): Omit<DecodeMemory, 'variant'> {
  return { bytesPerPixel: bytes / (scaleDenom * scaleDenom), fixedBytes: bytes * ((width + height) / scaleDenom + 1) };
}

/** The sum of a statement and extra terms. */
export function plus(memory: DecodeMemory, ...terms: Omit<DecodeMemory, 'variant'>[]): DecodeMemory {
  return terms.reduce<DecodeMemory>(
    (sum, term) => ({
      variant: sum.variant,
      bytesPerPixel: sum.bytesPerPixel + term.bytesPerPixel,
      fixedBytes: sum.fixedBytes + term.fixedBytes,
    }),
    memory,
  );
}

export function formatMiB(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
