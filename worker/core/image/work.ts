/**
 * Decode work: what a decode may cost relative to the image, and handing the thread back during a long one.
 *
 * Work is counted in "pixel-equivalents": one unit is about what one pixel of a square image costs to decode
 * (~16 ns in Node here). A codec states its work from the header; past WORK_PER_PIXEL × pixels + FIXED_WORK the
 * image is 413 image-too-complex before anything is decoded, so no image costs more than a few times what a square
 * image of the same pixel count does.
 */
import { ImageError } from './errors.js';

/** How many times a square image's cost (per pixel) an image may take. */
export const WORK_PER_PIXEL = 4;
/** Allowed whatever the shape, so small images (of any aspect) are never refused: ~16 ms of decoding. */
export const FIXED_WORK = 1_000_000;

/** The most work an image of `pixels` may take. */
export function maxWork(pixels: number): number {
  return WORK_PER_PIXEL * pixels + FIXED_WORK;
}

/** Throws image-too-complex when `work` exceeds what `pixels` justify. */
export function checkWork(format: string, what: string, work: number, pixels: number): void {
  const limit = maxWork(pixels);
  if (work <= limit) return;
  throw new ImageError(
    'image-too-complex',
    `decoding this ${format} image (${what}) takes ~${Math.round(work)} units of work, over the ${limit} ` +
      `its ${pixels} pixels justify`,
    { details: { work: Math.round(work), limit } },
  );
}

/**
 * Work units between yields: ~8 ms. Decoding is synchronous between its awaits (workerd's DecompressionStream
 * resolves its reads as microtasks, GIF's LZW has no I/O at all), so without a yield a large decode holds the
 * isolate and `/healthz` or a request already past decoding waits for all of it.
 */
export const YIELD_EVERY_WORK = 500_000;

/** A macrotask turn: lets timers, I/O and other requests' callbacks run. setImmediate where it exists (Node). */
const setImmediateIfAny = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
const macrotask: () => Promise<void> = setImmediateIfAny
  ? () => new Promise((resolve) => setImmediateIfAny(resolve))
  : () => new Promise((resolve) => setTimeout(resolve, 0));

/** Counts work as a decode does it and yields to the event loop every YIELD_EVERY_WORK units. */
export class WorkYielder {
  private sinceYield = 0;
  /** Yields done so far (for tests and benchmarks). */
  yields = 0;

  constructor(private readonly every = YIELD_EVERY_WORK) {}

  /** True when the work done since the last yield is due one; then `yield()` it. */
  add(work: number): boolean {
    this.sinceYield += work;
    return this.sinceYield >= this.every;
  }

  async yield(): Promise<void> {
    this.sinceYield = 0;
    this.yields++;
    await macrotask();
  }
}

/**
 * Most metadata blocks a file may have besides its image data (PNG chunks other than IDAT, JPEG marker segments
 * before the first scan, WebP RIFF chunks, GIF extensions before the first frame). Encoders write a handful; each costs
 * ~100 ns to walk whatever its size, so a 16 MB file of 4-byte segments cost 0.1–0.3 s of parsing for nothing.
 */
export const MAX_METADATA_BLOCKS = 1024;

export function tooManyBlocks(format: string, what: string): ImageError {
  return new ImageError(
    'image-too-complex',
    `the ${format} file has more than ${MAX_METADATA_BLOCKS} ${what}; real encoders write a few`,
    { details: { limit: MAX_METADATA_BLOCKS } },
  );
}
