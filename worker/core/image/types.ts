export type ImageFormat = 'jpeg' | 'png' | 'webp' | 'gif';

/** Interleaved 8-bit RGB, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** What a codec reads from the header alone, without decoding pixels. */
export interface ImageHeader {
  /** Stored dimensions (before EXIF orientation). */
  width: number;
  height: number;
  /** The EXIF block (a TIFF structure) when the file carries one. */
  exif?: Uint8Array;
}

/** Decoded pixels as stored: `channels` interleaved 8-bit samples per pixel, RGB first, any 4th sample ignored. */
export interface StoredPixels {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
}

/**
 * One format's decoder. Each format module also exports its header probe (`probeJpeg`, …), which needs no
 * WebAssembly. `decode` throws ImageError for data it cannot handle; it is only called after the probe accepted the
 * same bytes and the caller checked the pixel count.
 */
export interface ImageCodec {
  format: ImageFormat;
  decode(bytes: Uint8Array): Promise<StoredPixels>;
}
