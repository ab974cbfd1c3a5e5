/**
 * Turns decoded pixels as stored into upright RGB, applying EXIF orientations 2–8 exactly as PIL's
 * ImageOps.exif_transpose does (2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270,
 * 7 TRANSVERSE, 8 ROTATE_90), and dropping a 4th sample (alpha) in the same pass.
 */
import { swapsAxes, type Orientation } from './exif.js';
import type { RgbImage, StoredPixels } from './types.js';

/**
 * Upright pixel index of stored pixel (sx, sy) = origin + sx·stepX + sy·stepY, for stored size W×H and upright
 * width `uw` (W, or H when the axes swap).
 */
function destinationSteps(orientation: Orientation, width: number, height: number, uw: number) {
  switch (orientation) {
    case 1:
      return { origin: 0, stepX: 1, stepY: uw };
    case 2:
      return { origin: width - 1, stepX: -1, stepY: uw };
    case 3:
      return { origin: (height - 1) * uw + width - 1, stepX: -1, stepY: -uw };
    case 4:
      return { origin: (height - 1) * uw, stepX: 1, stepY: -uw };
    case 5:
      return { origin: 0, stepX: uw, stepY: 1 };
    case 6:
      return { origin: height - 1, stepX: uw, stepY: -1 };
    case 7:
      return { origin: (width - 1) * uw + height - 1, stepX: -uw, stepY: -1 };
    case 8:
      return { origin: (width - 1) * uw, stepX: -uw, stepY: 1 };
  }
}

/** RGBA → RGB in place: the result is a view on the same buffer, so no second full-size buffer exists. */
function dropAlphaInPlace(data: Uint8Array, pixels: number): Uint8Array {
  for (let s = 0, d = 0; s < pixels * 4; s += 4, d += 3) {
    data[d] = data[s];
    data[d + 1] = data[s + 1];
    data[d + 2] = data[s + 2];
  }
  return data.subarray(0, pixels * 3);
}

export function toUprightRgb(stored: StoredPixels, orientation: Orientation): RgbImage {
  const { width, height, channels, data } = stored;
  if (orientation === 1) {
    return { width, height, data: channels === 3 ? data : dropAlphaInPlace(data, width * height) };
  }
  const swap = swapsAxes(orientation);
  const uw = swap ? height : width;
  const uh = swap ? width : height;
  const out = new Uint8Array(width * height * 3);
  const { origin, stepX, stepY } = destinationSteps(orientation, width, height, uw);
  let s = 0;
  for (let sy = 0; sy < height; sy++) {
    let d = origin + sy * stepY;
    for (let sx = 0; sx < width; sx++, s += channels, d += stepX) {
      const o = d * 3;
      out[o] = data[s];
      out[o + 1] = data[s + 1];
      out[o + 2] = data[s + 2];
    }
  }
  return { width: uw, height: uh, data: out };
}
