/**
 * What the head is trained on per image: the eval view (the service's own preprocessing of the whole image) and,
 * optionally, augmented views — a random-resized crop and a horizontal flip of the decoded image, then the same
 * eval preprocessing (timm's train recipe at small scale). Plus the raw-pixel baseline's features.
 */
import type { RgbImage } from '../../../worker/core/image/types.js';
import type { Random } from './random.js';

/** Random-resized crop: area share and aspect ratio ranges (milder than timm's 0.08 for small sets). */
const AREA = [0.35, 1] as const;
const LOG_RATIO = [Math.log(3 / 4), Math.log(4 / 3)] as const;

export function randomResizedCropFlip(image: RgbImage, random: Random): RgbImage {
  const { width, height } = image;
  let cropWidth = width;
  let cropHeight = height;
  let left = 0;
  let top = 0;
  for (let attempt = 0; attempt < 10; attempt++) {
    const area = width * height * (AREA[0] + (AREA[1] - AREA[0]) * random.next());
    const ratio = Math.exp(LOG_RATIO[0] + (LOG_RATIO[1] - LOG_RATIO[0]) * random.next());
    const w = Math.round(Math.sqrt(area * ratio));
    const h = Math.round(Math.sqrt(area / ratio));
    if (w >= 1 && h >= 1 && w <= width && h <= height) {
      cropWidth = w;
      cropHeight = h;
      left = random.int(width - w + 1);
      top = random.int(height - h + 1);
      break;
    }
  }
  const flip = random.next() < 0.5;
  const data = new Uint8Array(cropWidth * cropHeight * 3);
  for (let y = 0; y < cropHeight; y++)
    for (let x = 0; x < cropWidth; x++) {
      const sx = left + (flip ? cropWidth - 1 - x : x);
      const from = ((top + y) * width + sx) * 3;
      const to = (y * cropWidth + x) * 3;
      data[to] = image.data[from];
      data[to + 1] = image.data[from + 1];
      data[to + 2] = image.data[from + 2];
    }
  return { width: cropWidth, height: cropHeight, data };
}

/**
 * The baseline's side: the model input (3 × size × size) average-pooled to 3 × 16 × 16 — raw pixels at a size where
 * the same softmax regression fits in seconds (at 28 × 28 it took minutes for 400 images).
 */
export const PIXEL_SIDE = 16;

export function pooledPixels(input: Float32Array, size: number, side = PIXEL_SIDE): Float32Array {
  const out = new Float32Array(3 * side * side);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < side; y++)
      for (let x = 0; x < side; x++) {
        const y0 = Math.floor((y * size) / side);
        const y1 = Math.floor(((y + 1) * size) / side);
        const x0 = Math.floor((x * size) / side);
        const x1 = Math.floor(((x + 1) * size) / side);
        let sum = 0;
        for (let yy = y0; yy < y1; yy++)
          for (let xx = x0; xx < x1; xx++) sum += input[c * size * size + yy * size + xx];
        out[c * side * side + y * side + x] = sum / ((y1 - y0) * (x1 - x0));
      }
  return out;
}
