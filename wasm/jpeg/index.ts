/**
 * JPEG decoding with libjpeg-turbo 2.1.5 compiled to WebAssembly (jpeg.wasm, built by build.sh),
 * including libjpeg's DCT-domain scaling (1/2, 1/4, 1/8), which decodes a 12 MP photo at 1/8
 * without ever holding the full-size image.
 *
 * Takes a precompiled `WebAssembly.Module` (workerd forbids compiling wasm from bytes; a `.wasm`
 * import arrives compiled) and instantiates it afresh for every call, on a zero-filled memory that
 * the decoder reuses: a failed decode leaves nothing behind, and no memory is left for a late GC.
 * The memory is created here with a maximum, so a hostile file cannot grow it past `maxMemoryBytes`.
 *
 * Decode settings are libjpeg's defaults, as PIL uses them (ISLOW IDCT, fancy upsampling), so at
 * scale 1 the pixels equal PIL's and sharp's. Truncated data is rejected, as PIL does by default.
 */

export type JpegColorSpace = 'gray' | 'rgb' | 'cmyk' | 'ycck';
export type ScaleDenom = 1 | 2 | 4 | 8;

export interface JpegHeader {
  width: number;
  height: number;
  components: number;
  /** The file's color space; 'rgb' covers YCbCr and plain RGB files. */
  colorSpace: JpegColorSpace;
  progressive: boolean;
  /** Color transform code of the Adobe APP14 marker, present only when the file has one. */
  adobeTransform?: number;
}

export interface DecodedJpeg {
  width: number;
  height: number;
  /** 'gray': 1 byte per pixel; 'rgb': 3 (R, G, B); 'cmyk': 4, as stored in the file (YCCK files
   *  are converted to CMYK; Adobe files usually store it inverted, see `adobe`). */
  colorSpace: 'gray' | 'rgb' | 'cmyk';
  channels: 1 | 3 | 4;
  /** The file has an Adobe APP14 marker. */
  adobe: boolean;
  /** Corrupt-data warnings libjpeg recovered from (PIL accepts such files too). */
  warnings: number;
  /** Rows top to bottom, `width * channels` bytes each, no padding. */
  data: Uint8Array;
  /** Size the decoder's wasm memory reached (input copy + libjpeg's buffers), for monitoring. */
  wasmMemoryBytes: number;
}

export type JpegErrorCode = 'unsupported-format' | 'corrupt-image' | 'image-too-large';

export class JpegDecodeError extends Error {
  override readonly name = 'JpegDecodeError';
  constructor(
    readonly code: JpegErrorCode,
    message: string,
    /** libjpeg's J_MESSAGE_CODE when libjpeg raised the error. */
    readonly libjpegCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface JpegDecoderLimits {
  /** Cap on the decoder's wasm memory (input copy + libjpeg's buffers). Default 64 MiB: enough
   *  for a 20 MP progressive 4:2:0 file, whose coefficients libjpeg must hold whole. */
  maxMemoryBytes?: number;
  /** Cap on output width × height (the output lives outside wasm memory). Default 16 Mi. */
  maxOutputPixels?: number;
}

export interface JpegDecodeCallOptions {
  scaleDenom?: ScaleDenom;
  /** Can only tighten the decoder's limit. */
  maxOutputPixels?: number;
  /** Can only tighten the decoder's memory cap. Keep it the same across calls: the memory is reused only then. */
  maxMemoryBytes?: number;
}

export interface JpegDecoder {
  readHeader(bytes: Uint8Array): JpegHeader;
  decode(bytes: Uint8Array, options?: JpegDecodeCallOptions): DecodedJpeg;
}

/** Output size of a decode at 1/scaleDenom: libjpeg rounds up (jdiv_round_up). */
export function scaledSize(width: number, height: number, scaleDenom: ScaleDenom): { width: number; height: number } {
  return { width: Math.ceil(width / scaleDenom), height: Math.ceil(height / scaleDenom) };
}

const WASM_PAGE = 65536;
/** build.sh links with --initial-memory=1048576; the supplied memory must be at least that. */
const INITIAL_PAGES = 16;
const DEFAULT_MAX_MEMORY = 64 * 1024 * 1024;
/** A memory grown past this by one decode is not kept for the next one. */
const KEEP_MEMORY_BYTES = 32 * 1024 * 1024;
const DEFAULT_MAX_OUTPUT_PIXELS = 16 * 1024 * 1024;

/** Failure kinds of decoder.c's jd_fail(). */
const KIND_CODES: Record<number, JpegErrorCode> = { 1: 'corrupt-image', 2: 'unsupported-format', 3: 'image-too-large' };

/** J_COLOR_SPACE values (jpeglib.h). */
const JCS = { GRAYSCALE: 1, RGB: 2, YCbCr: 3, CMYK: 4, YCCK: 5 } as const;

/** Byte offsets of decoder.c's jd_info fields (all int32). */
const INFO = {
  width: 0,
  height: 4,
  components: 8,
  jpegColorSpace: 12,
  progressive: 16,
  sawAdobe: 20,
  adobeTransform: 24,
  outWidth: 28,
  outHeight: 32,
  outComponents: 36,
  outColorSpace: 40,
  rowsPerBatch: 44,
  warnings: 48,
} as const;

interface DecoderExports {
  _initialize(): void;
  jd_alloc_input(size: number): number;
  jd_read_header(data: number, size: number, maxMemory: number): number;
  jd_start(scaleDenom: number, maxOutputPixels: number): number;
  jd_read_rows(): number;
  jd_row_batch(): number;
}

interface Session {
  exports: DecoderExports;
  memory: WebAssembly.Memory;
  /** The memory's maximum, in pages: the cap of this call. */
  maxPages: number;
}

function pagesIn(bytes: number): number {
  return Math.floor(bytes / WASM_PAGE);
}

export function createJpegDecoder(module: WebAssembly.Module, limits: JpegDecoderLimits = {}): JpegDecoder {
  const maxMemoryBytes = limits.maxMemoryBytes ?? DEFAULT_MAX_MEMORY;
  const maxOutputPixels = limits.maxOutputPixels ?? DEFAULT_MAX_OUTPUT_PIXELS;
  const maxPages = pagesIn(maxMemoryBytes);
  if (!(maxPages >= INITIAL_PAGES && maxPages <= 65536)) {
    throw new RangeError(`maxMemoryBytes must be between 1 MiB and 4 GiB, got ${maxMemoryBytes}`);
  }
  if (!(Number.isInteger(maxOutputPixels) && maxOutputPixels > 0 && maxOutputPixels <= 0xffffffff)) {
    throw new RangeError(`maxOutputPixels must be a positive 32-bit integer, got ${maxOutputPixels}`);
  }

  // One memory per decoder, reused: workerd frees a dropped WebAssembly.Memory only at a late GC, so a fresh memory
  // per call piled up (~17 MiB per 2560×1600 progressive decode). Zero-filling it before each instantiation gives
  // the new instance the state a fresh memory would (data segments are re-copied, the rest must read as zero). A
  // memory that a large decode grew past KEEP_MEMORY_BYTES is dropped rather than kept at that size. A memory's
  // maximum is fixed when it is created, so it is reused only by calls with the same cap.
  let spare: { memory: WebAssembly.Memory; maxPages: number } | undefined;

  function instantiate(pages = maxPages): Session {
    const memory =
      spare?.maxPages === pages ? spare.memory : new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: pages });
    spare = undefined;
    new Uint8Array(memory.buffer).fill(0);
    const jd_fail = (kind: number, libjpegCode: number, textPtr: number, paramsPtr: number): never => {
      const message = formatMessage(new Uint8Array(memory.buffer), textPtr, paramsPtr);
      const code = KIND_CODES[kind];
      if (!code) throw new Error(`JPEG decoder misuse: ${message}`);
      throw new JpegDecodeError(code, message, libjpegCode || undefined);
    };
    const instance = new WebAssembly.Instance(module, { env: { memory, jd_fail } });
    const exports = instance.exports as unknown as DecoderExports;
    exports._initialize();
    return { exports, memory, maxPages: pages };
  }

  function release(session: Session): void {
    if (session.memory.buffer.byteLength <= KEEP_MEMORY_BYTES)
      spare = { memory: session.memory, maxPages: session.maxPages };
  }

  /** Copies the file into a fresh instance and parses its header. Returns jd_info's address. */
  function open(session: Session, bytes: Uint8Array): number {
    const { exports, memory } = session;
    const input = exports.jd_alloc_input(bytes.length);
    new Uint8Array(memory.buffer, input, bytes.length).set(bytes);
    return exports.jd_read_header(input, bytes.length, Math.min(session.maxPages * WASM_PAGE, 0x7fffffff));
  }

  function readHeader(bytes: Uint8Array): JpegHeader {
    return guarded(() => {
      const session = instantiate();
      try {
        const infoPtr = open(session, bytes);
        const info = new DataView(session.memory.buffer, infoPtr);
        const int = (offset: number) => info.getInt32(offset, true);
        const header: JpegHeader = {
          width: int(INFO.width),
          height: int(INFO.height),
          components: int(INFO.components),
          colorSpace: headerColorSpace(int(INFO.jpegColorSpace)),
          progressive: int(INFO.progressive) !== 0,
        };
        if (int(INFO.sawAdobe)) header.adobeTransform = int(INFO.adobeTransform);
        return header;
      } finally {
        release(session);
      }
    });
  }

  function decode(bytes: Uint8Array, options: JpegDecodeCallOptions = {}): DecodedJpeg {
    const scaleDenom = options.scaleDenom ?? 1;
    // Per-call limits can only tighten the decoder's own.
    const outputLimit = Math.max(1, Math.min(options.maxOutputPixels ?? maxOutputPixels, maxOutputPixels));
    const pages = Math.min(pagesIn(options.maxMemoryBytes ?? maxMemoryBytes), maxPages);
    if (![1, 2, 4, 8].includes(scaleDenom)) throw new RangeError(`scaleDenom must be 1, 2, 4 or 8, got ${scaleDenom}`);
    if (pages < INITIAL_PAGES) {
      throw new JpegDecodeError(
        'image-too-large',
        `a memory cap of ${options.maxMemoryBytes} bytes is below the decoder's initial memory`,
      );
    }
    return guarded(() => {
      const session = instantiate(pages);
      try {
        const { exports, memory } = session;
        open(session, bytes);
        const infoPtr = exports.jd_start(scaleDenom, outputLimit);
        // memory.buffer is replaced whenever libjpeg grows the memory: take views after each call.
        let info = new DataView(memory.buffer, infoPtr);
        const width = info.getInt32(INFO.outWidth, true);
        const height = info.getInt32(INFO.outHeight, true);
        const channels = info.getInt32(INFO.outComponents, true) as 1 | 3 | 4;
        const colorSpace = outputColorSpace(info.getInt32(INFO.outColorSpace, true));
        const adobe = info.getInt32(INFO.sawAdobe, true) !== 0;
        const stride = width * channels;
        const batch = exports.jd_row_batch();

        const data = new Uint8Array(stride * height);
        let rows = 0;
        for (let n = exports.jd_read_rows(); n > 0; n = exports.jd_read_rows()) {
          data.set(new Uint8Array(memory.buffer, batch, n * stride), rows * stride);
          rows += n;
        }
        if (rows !== height) throw new Error(`JPEG decoder returned ${rows} of ${height} rows`);
        info = new DataView(memory.buffer, infoPtr);
        const warnings = info.getInt32(INFO.warnings, true);
        return {
          width,
          height,
          colorSpace,
          channels,
          adobe,
          warnings,
          data,
          wasmMemoryBytes: memory.buffer.byteLength,
        };
      } finally {
        release(session);
      }
    });
  }

  return { readHeader, decode };
}

/** Runs fn, turning a trap inside libjpeg (a libjpeg bug hit by hostile input, or its stack
 *  overflowing) into a corrupt-image error: the instance is discarded either way. */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof WebAssembly.RuntimeError) {
      throw new JpegDecodeError('corrupt-image', `JPEG decoder trapped: ${error.message}`, undefined, { cause: error });
    }
    if (error instanceof RangeError && /memory/i.test(error.message)) {
      // The host could not provide the memory (instantiation or growth).
      throw new JpegDecodeError('image-too-large', `JPEG decoder out of memory: ${error.message}`, undefined, {
        cause: error,
      });
    }
    throw error;
  }
}

function headerColorSpace(jcs: number): JpegColorSpace {
  switch (jcs) {
    case JCS.GRAYSCALE:
      return 'gray';
    case JCS.RGB:
    case JCS.YCbCr:
      return 'rgb';
    case JCS.CMYK:
      return 'cmyk';
    case JCS.YCCK:
      return 'ycck';
    default:
      throw new JpegDecodeError('unsupported-format', `JPEG color space ${jcs} is not gray, RGB, CMYK or YCCK`);
  }
}

function outputColorSpace(jcs: number): DecodedJpeg['colorSpace'] {
  if (jcs === JCS.GRAYSCALE) return 'gray';
  if (jcs === JCS.RGB) return 'rgb';
  if (jcs === JCS.CMYK) return 'cmyk';
  throw new Error(`JPEG decoder produced unexpected color space ${jcs}`);
}

function readCString(heap: Uint8Array, ptr: number, maxLength = 200): string {
  let text = '';
  for (let i = ptr; i < heap.length && i - ptr < maxLength && heap[i] !== 0; i++) text += String.fromCharCode(heap[i]);
  return text;
}

/**
 * Formats a libjpeg message template (jerror.h) with its msg_parm union: the conversions used
 * there are %d %u %x %c %s with optional zero-padded width. Done here rather than with snprintf
 * in C, whose wasi-libc version drags stdio and WASI imports into the module.
 */
function formatMessage(heap: Uint8Array, textPtr: number, paramsPtr: number): string {
  const template = readCString(heap, textPtr);
  if (!paramsPtr) return template;
  const params = new DataView(heap.buffer, paramsPtr, 80);
  let next = 0;
  return template.replace(/%(0?)(\d*)([dusxc])/g, (_match, zero: string, width: string, conversion: string) => {
    let text: string;
    if (conversion === 's') {
      text = readCString(heap, paramsPtr, 80);
    } else {
      const value = next < 8 ? params.getInt32(4 * next++, true) : 0;
      if (conversion === 'd') text = String(value);
      else if (conversion === 'u') text = String(value >>> 0);
      else if (conversion === 'x') text = (value >>> 0).toString(16);
      else text = String.fromCharCode(value & 0xff);
    }
    return width ? text.padStart(Number(width), zero ? '0' : ' ') : text;
  });
}
