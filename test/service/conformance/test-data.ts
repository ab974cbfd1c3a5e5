import type { Variant } from '../../../worker/core/manifest/manifest.js';
/**
 * The test images and tiny models both runtimes' HTTP cases know the answers for: names of the generated data and
 * what a runner hands the cases. Runtime-neutral: imported inside workerd and in Node.
 */

/** Solid-colour images: their preprocessed tensor is the colour's normalized value everywhere, so tests know it. */
export const SOLID_COLOURS: readonly { name: string; rgb: [number, number, number]; width: number; height: number }[] =
  [
    { name: 'crimson', rgb: [200, 30, 90], width: 320, height: 200 },
    { name: 'green', rgb: [20, 180, 60], width: 150, height: 400 },
    { name: 'blue', rgb: [40, 60, 220], width: 224, height: 224 },
  ];

/** Lossless encodings of each solid colour (JPEG would change the values). */
export const LOSSLESS_FORMATS = ['png', 'webp', 'gif'] as const;

/** Real fp32 exports of the synthetic fixture checkpoints, for the golden parity test. */
export const GOLDEN_VARIANTS: readonly Variant[] = ['m0', 'm1'];

export interface TinyModelInfo {
  name: string;
  classes: number;
  weights: number[];
  bias: number[];
}
