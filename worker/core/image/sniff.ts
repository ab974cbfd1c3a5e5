/** The format from the magic bytes: the one place that decides it (Content-Type and file names are never trusted). */
import type { ImageFormat } from './types.js';

function startsWith(bytes: Uint8Array, signature: readonly number[], at = 0): boolean {
  if (bytes.length < at + signature.length) return false;
  return signature.every((value, i) => bytes[at + i] === value);
}

const ascii = (text: string) => Array.from(text, (c) => c.charCodeAt(0));

const SIGNATURES: readonly { format: ImageFormat; test: (bytes: Uint8Array) => boolean }[] = [
  { format: 'jpeg', test: (b) => startsWith(b, [0xff, 0xd8, 0xff]) },
  { format: 'png', test: (b) => startsWith(b, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  { format: 'gif', test: (b) => startsWith(b, ascii('GIF87a')) || startsWith(b, ascii('GIF89a')) },
  { format: 'webp', test: (b) => startsWith(b, ascii('RIFF')) && startsWith(b, ascii('WEBP'), 8) },
];

/** Formats we recognise only to say so in the error message. */
const OTHER_FORMATS: readonly { name: string; test: (bytes: Uint8Array) => boolean }[] = [
  { name: 'BMP', test: (b) => startsWith(b, ascii('BM')) },
  { name: 'TIFF', test: (b) => startsWith(b, [0x49, 0x49, 0x2a, 0x00]) || startsWith(b, [0x4d, 0x4d, 0x00, 0x2a]) },
  { name: 'AVIF', test: (b) => startsWith(b, ascii('ftypavi'), 4) },
  { name: 'HEIF/HEIC', test: (b) => startsWith(b, ascii('ftyphei'), 4) || startsWith(b, ascii('ftypmif1'), 4) },
  {
    name: 'JPEG XL',
    test: (b) => startsWith(b, [0xff, 0x0a]) || startsWith(b, [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20]),
  },
  { name: 'ICO', test: (b) => startsWith(b, [0, 0, 1, 0]) },
  { name: 'PDF', test: (b) => startsWith(b, ascii('%PDF')) },
];

export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  return SIGNATURES.find((s) => s.test(bytes))?.format;
}

/** A name for bytes that are not a supported format ('unknown' when nothing matches), for error messages. */
export function describeUnsupported(bytes: Uint8Array): string {
  return OTHER_FORMATS.find((s) => s.test(bytes))?.name ?? 'unknown';
}
