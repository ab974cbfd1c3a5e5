/**
 * EXIF orientation: reading tag 0x0112 from TIFF structures of either byte order, and applying orientations 1–8 to
 * a non-square image, checked against the EXIF definitions written out by hand.
 */
import { describe, expect, it } from 'vitest';
import { exifOrientation, type Orientation } from '../../../worker/core/image/exif.js';
import { toUprightRgb } from '../../../worker/core/image/orientation.js';

/** A TIFF structure whose IFD0 holds the given (tag, type, count, value) entries. */
function tiff(littleEndian: boolean, entries: [number, number, number, number][]): Uint8Array {
  const bytes = new Uint8Array(8 + 2 + entries.length * 12 + 4);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, littleEndian ? 0x4949 : 0x4d4d);
  view.setUint16(2, 42, littleEndian);
  view.setUint32(4, 8, littleEndian);
  view.setUint16(8, entries.length, littleEndian);
  entries.forEach(([tag, type, count, value], i) => {
    const at = 10 + i * 12;
    view.setUint16(at, tag, littleEndian);
    view.setUint16(at + 2, type, littleEndian);
    view.setUint32(at + 4, count, littleEndian);
    view.setUint16(at + 8, value, littleEndian);
  });
  return bytes;
}

const SHORT = 3;
const ORIENTATION = 0x0112;

describe('exifOrientation', () => {
  it.each([true, false])('reads the tag among others (little endian: %s)', (little) => {
    for (let value = 1; value <= 8; value++) {
      expect(
        exifOrientation(
          tiff(little, [
            [0x010f, 2, 4, 0],
            [ORIENTATION, SHORT, 1, value],
            [0x0131, 2, 4, 0],
          ]),
        ),
      ).toBe(value);
    }
  });

  it('accepts an "Exif\\0\\0" prefix, as some PNG and WebP writers leave it', () => {
    const prefixed = new Uint8Array([0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff(false, [[ORIENTATION, SHORT, 1, 6]])]);
    expect(exifOrientation(prefixed)).toBe(6);
  });

  it.each([
    ['no EXIF', undefined],
    ['no orientation tag', tiff(true, [[0x010f, 2, 4, 0]])],
    ['out-of-range value', tiff(true, [[ORIENTATION, SHORT, 1, 9]])],
    ['value 0', tiff(true, [[ORIENTATION, SHORT, 1, 0]])],
    ['wrong type', tiff(true, [[ORIENTATION, 4, 1, 6]])],
    ['bad byte order mark', new Uint8Array([0x41, 0x41, 42, 0, 8, 0, 0, 0, 0, 0])],
    ['IFD offset past the end', new Uint8Array([0x49, 0x49, 42, 0, 0xff, 0, 0, 0])],
    ['entry count past the end', tiff(true, [[ORIENTATION, SHORT, 1, 6]]).slice(0, 16)],
    ['too short', new Uint8Array([0x49, 0x49])],
  ])('%s reads as 1', (_, exif) => {
    expect(exifOrientation(exif)).toBe(1);
  });
});

describe('toUprightRgb', () => {
  // Stored 3×2:   A B C
  //               D E F
  // Upright, per the EXIF specification (and PIL's exif_transpose):
  const UPRIGHT: Record<Orientation, string[]> = {
    1: ['ABC', 'DEF'],
    2: ['CBA', 'FED'], // mirrored left-right
    3: ['FED', 'CBA'], // rotated 180°
    4: ['DEF', 'ABC'], // mirrored top-bottom
    5: ['AD', 'BE', 'CF'], // transposed
    6: ['DA', 'EB', 'FC'], // rotated 90° clockwise
    7: ['FC', 'EB', 'DA'], // transversed
    8: ['CF', 'BE', 'AD'], // rotated 90° counter-clockwise
  };
  const colour = (label: string) => {
    const n = label.charCodeAt(0) - 64;
    return [n * 10, n * 20, n * 30];
  };

  it.each([3, 4] as const)('all 8 orientations, from %i channels (the 4th dropped)', (channels) => {
    const stored = new Uint8Array(
      [...'ABCDEF'].flatMap((label) => (channels === 4 ? [...colour(label), 99] : colour(label))),
    );
    for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8] as const) {
      const rows = UPRIGHT[orientation];
      const image = toUprightRgb({ width: 3, height: 2, channels, data: stored.slice() }, orientation);
      expect({ width: image.width, height: image.height }, `orientation ${orientation}`).toEqual({
        width: rows[0].length,
        height: rows.length,
      });
      expect([...image.data], `orientation ${orientation}`).toEqual(rows.flatMap((row) => [...row].flatMap(colour)));
    }
  });
});
