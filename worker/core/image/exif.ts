/**
 * EXIF Orientation (tag 0x0112 in IFD0 of the TIFF structure EXIF is). The codecs find the EXIF block in their
 * containers (JPEG APP1, PNG eXIf, WebP EXIF); this module reads only the tag. Malformed EXIF never fails a decode:
 * it reads as orientation 1, as browsers and PIL's exif_transpose treat a missing tag.
 */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

const ORIENTATION_TAG = 0x0112;
const TYPE_SHORT = 3;
const EXIF_PREFIX = [0x45, 0x78, 0x69, 0x66, 0, 0]; // "Exif\0\0", which some writers keep inside PNG/WebP chunks

export function exifOrientation(exif: Uint8Array | undefined): Orientation {
  if (!exif) return 1;
  let tiff = exif;
  if (EXIF_PREFIX.every((value, i) => tiff[i] === value)) tiff = tiff.subarray(EXIF_PREFIX.length);
  if (tiff.length < 8) return 1;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const order = view.getUint16(0);
  if (order !== 0x4949 && order !== 0x4d4d) return 1;
  const little = order === 0x4949;
  if (view.getUint16(2, little) !== 42) return 1;
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > tiff.length) return 1;
  const entries = view.getUint16(ifd, little);
  for (let i = 0; i < entries; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.length) return 1;
    if (view.getUint16(entry, little) !== ORIENTATION_TAG) continue;
    if (view.getUint16(entry + 2, little) !== TYPE_SHORT || view.getUint32(entry + 4, little) < 1) return 1;
    const value = view.getUint16(entry + 8, little);
    return value >= 1 && value <= 8 ? (value as Orientation) : 1;
  }
  return 1;
}

/** Orientations 5–8 store the image transposed: the upright image has width and height swapped. */
export function swapsAxes(orientation: Orientation): boolean {
  return orientation >= 5;
}
