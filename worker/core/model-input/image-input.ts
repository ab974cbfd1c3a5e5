/**
 * Binds classification to the image modules (worker/core/image: decoding; worker/core/preprocess: the eval transform).
 * The only file here that knows their API.
 */
import type { Clock } from '../clock.js';
import { ImageError } from '../image/errors.js';
import { createImageDecoder } from '../image/decode.js';
import type { RgbImage } from '../image/types.js';
import type { ImageWasmModules } from '../image/wasm.js';
import { preprocessInto, type PreprocessInto } from '../preprocess/transform.js';
import type { JpegCodec } from '../image/jpeg.js';
import { createDecodeGate } from './decode-gate.js';
import type { Preprocessing } from '../manifest/manifest.js';

/** What an image may take: checked on its header, before decoding. */
export interface DecodeLimits {
  /** Largest width × height. */
  maxPixels: number;
  /** Most memory its decode may take (the decoder's statement from the header). Absent: no budget. */
  maxDecodeBytes?: number;
}

/** What one image's decode and preprocessing are given. */
export interface ImageJob {
  limits: DecodeLimits & { resizeShortSide: number };
  preprocessing: Preprocessing;
}

/**
 * What classification needs from the image modules: one image file in, its model input written into the batch tensor.
 * In one thread (createImageSupport below: workerd, and Node without a pool) or a pool of threads (worker/runtimes/node/decode-pool.ts).
 * write() throws a CodedError for images it cannot take (ImageError: unsupported-format, corrupt-image, too-many-pixels, …;
 * the pool: overloaded when its bounded queue is full); the image's limits are checked on its header, before decoding.
 */
export interface ImageSupport {
  /** The batch tensor, `elements` floats, zeroed (shared memory where another thread writes into it). */
  allocate(elements: number): Float32Array;
  /** Decodes one image and writes its NCHW float32 model input into `out` at element `offset`. */
  write(bytes: Uint8Array, job: ImageJob, out: Float32Array, offset: number, clock: Clock): Promise<ImageTiming>;
  /** How many images of one request may be in write() at once (1: one after another). */
  readonly parallel: number;
}

export interface ImageTiming {
  /** Waiting for the decode gate (another request's image being decoded). */
  decode_wait_ms: number;
  decode_ms: number;
  preprocess_ms: number;
}

export interface ImageSupportOptions {
  /**
   * Decode large JPEGs already reduced (libjpeg's DCT scaling to 1/2, 1/4 or 1/8, keeping the short side at least
   * twice the preprocessing's resize target). Default true: a 12 MP photo then fits a 128 MB isolate and decodes in a
   * fraction of the time; images with a short side under 2× the target (ImageNet-size) decode at full size, exactly
   * as PIL does. false: always full size, PIL-exact for every size.
   */
  reducedJpegDecode?: boolean;
  /** A JPEG codec instead of wasm/jpeg's, with the same pixels (the Node build's native one). */
  jpeg?: JpegCodec;
  /** A preprocessing with exactly preprocessInto's output (the Node build's native one). */
  preprocess?: PreprocessInto;
}

/** The decode and preprocessing steps on their own. Both throw ApiError (ImageError) for images they cannot take. */
export interface ImageCodec {
  /**
   * Upright RGB. Rejects an image over the limits from its header, before decoding. May return a large image already
   * reduced, never below 2× `resizeShortSide` on the short side (the preprocessing's own resize does the rest).
   */
  decode(bytes: Uint8Array, limits: DecodeLimits & { resizeShortSide: number }): Promise<RgbImage>;
  /** Writes the model's input for one image, NCHW float32, into `out` at element `offset`. */
  preprocess(image: RgbImage, preprocessing: Preprocessing, out: Float32Array, offset: number): void;
  /** Runs one image's decode and preprocess while no other image of this instance is between the two. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
}

/**
 * The decoders report bad input as ImageError. Anything else they throw was still caused by this input (a decoder
 * bug or a limit of the library), so it is reported as undecodable rather than failing the request with a 500.
 */
async function decodeOrReject(codec: ImageCodec, bytes: Uint8Array, job: ImageJob): Promise<RgbImage> {
  try {
    return await codec.decode(bytes, job.limits);
  } catch (error) {
    if (error instanceof ImageError) throw error;
    console.error('image decoder threw a non-ImageError', error);
    const reason = error instanceof Error ? error.message : String(error);
    throw new ImageError('corrupt-image', `the image cannot be decoded: ${reason}`, { cause: error });
  }
}

/** One image through the codec into `out`, one at a time per codec; what a decode-pool thread runs, too. */
export function writeImage(
  codec: ImageCodec,
  bytes: Uint8Array,
  job: ImageJob,
  out: Float32Array,
  offset: number,
  clock: Clock,
): Promise<ImageTiming> {
  // Timed inside the gate: waiting for another request's image is not this one's decode time.
  const queued = clock();
  return codec.exclusive(async (): Promise<ImageTiming> => {
    const started = clock();
    let decoded: RgbImage | undefined = await decodeOrReject(codec, bytes, job);
    const decodedAt = clock();
    codec.preprocess(decoded, job.preprocessing, out, offset);
    decoded = undefined; // the full-size pixels can be collected before the next image is decoded
    return { decode_wait_ms: started - queued, decode_ms: decodedAt - started, preprocess_ms: clock() - decodedAt };
  });
}

/** Decoding on the calling thread, one image at a time (the Worker; Node with `--decode-threads 0`). */
export function createImageSupport(
  wasm: ImageWasmModules,
  options: ImageSupportOptions = {},
): ImageSupport & ImageCodec {
  const decoder = createImageDecoder(wasm, options.jpeg ? { jpeg: options.jpeg } : {});
  const reduced = options.reducedJpegDecode ?? true;
  const codec: ImageCodec = {
    // The decoder checks the pixel limit and the memory budget on the header before decoding anything.
    decode: (bytes, { maxPixels, maxDecodeBytes, resizeShortSide }) =>
      decoder.decodeImage(bytes, { maxPixels, maxDecodeBytes, ...(reduced ? { minShortSide: resizeShortSide } : {}) }),
    preprocess: options.preprocess ?? preprocessInto,
    // One gate per instance: every request's images share it.
    exclusive: createDecodeGate(),
  };
  return {
    ...codec,
    allocate: (elements) => new Float32Array(elements),
    write: (bytes, job, out, offset, clock) => writeImage(codec, bytes, job, out, offset, clock),
    // One thread decodes one image at a time anyway; in order keeps a request's memory to one decode.
    parallel: 1,
  };
}

/**
 * One image file → one model input, exactly as a classify request turns it into a batch row (the same decoder, the
 * same reduced JPEG decode, the same eval preprocessing). The toolchain's calibration and verification and
 * `npm run eval` go through here, so what they measure is what the service computes.
 */
export async function imageToInput(
  support: ImageCodec,
  bytes: Uint8Array,
  preprocessing: Preprocessing,
  out: Float32Array,
  offset: number,
  limits: DecodeLimits,
): Promise<void> {
  const image = await support.decode(bytes, { ...limits, resizeShortSide: preprocessing.resizeShortSide });
  support.preprocess(image, preprocessing, out, offset);
}
