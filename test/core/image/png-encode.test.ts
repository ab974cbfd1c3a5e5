/**
 * The PNG encoder behind include=input, checked by an independent decoder (sharp/libpng): every pixel back as given,
 * for sizes that exercise the Paeth filter's edges (one pixel, one row, one column) and a photo crop.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodePng, pngDataUrl } from '../../../worker/core/image/png-encode.js';
import { IMAGENET_PREPROCESSING } from '../../../worker/core/manifest/manifest.js';
import { inputToRgb } from '../../../worker/core/preprocess/transform.js';
import { sharedRoot } from '../../service/conformance/models.js';

function noise(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let state = 12345;
  for (let i = 0; i < data.length; i++) data[i] = (state = (state * 1103515245 + 12345) >>> 0) >>> 24;
  return data;
}

async function decodedBySharp(png: Uint8Array) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data) };
}

describe('encodePng', () => {
  it.each([
    [1, 1],
    [7, 1],
    [1, 5],
    [33, 17],
  ])('%i×%i noise round-trips through libpng', async (width, height) => {
    const data = noise(width, height);
    expect(await decodedBySharp(await encodePng({ width, height, data }))).toEqual({
      width,
      height,
      channels: 3,
      data,
    });
  });

  it('the first golden input, back as its crop, round-trips and is a base64 data: URL', async () => {
    const bytes = readFileSync(path.join(sharedRoot, 'fixtures/golden/m0.input.f32'));
    const input = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 3 * 224 * 224 * 4));
    const crop = inputToRgb(input, IMAGENET_PREPROCESSING);
    const png = await encodePng(crop);
    expect(await decodedBySharp(png)).toEqual({ width: 224, height: 224, channels: 3, data: crop.data });
    // Filtered rows deflate to well under the 150 KB of raw pixels.
    expect(png.length).toBeLessThan(120_000);
    const url = pngDataUrl(png);
    expect(url.startsWith('data:image/png;base64,')).toBe(true);
    expect(Buffer.from(url.slice(22), 'base64').equals(Buffer.from(png))).toBe(true);
  });

  it('refuses pixels that do not match the size', async () => {
    await expect(encodePng({ width: 2, height: 2, data: new Uint8Array(11) })).rejects.toThrow(RangeError);
  });
});
