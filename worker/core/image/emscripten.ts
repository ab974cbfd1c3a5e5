/**
 * Runs one call on an Emscripten-built @jsquash decoder (libwebp; JPEG has its own glue-free decoder in wasm/jpeg)
 * instantiated from a host-provided WebAssembly.Module, and keeps the instance healthy:
 * - what the C library prints is captured per call, so an error can say what went wrong;
 * - after a throw (an aborted Emscripten runtime is unusable) the instance is dropped, so the next call gets a
 *   fresh one;
 * - after a call that grew the wasm heap beyond its initial size the instance is dropped too: a wasm heap never
 *   shrinks, and one large decode would otherwise keep its peak heap for the life of a 128 MB isolate.
 */
import type { StoredPixels } from './types.js';

interface EmscriptenModuleOptions {
  noInitialRun: boolean;
  print: (message: string) => void;
  printErr: (message: string) => void;
  instantiateWasm: (
    imports: WebAssembly.Imports,
    receive: (instance: WebAssembly.Instance) => void,
  ) => WebAssembly.Exports;
}

export interface EmscriptenInstance {
  HEAPU8: Uint8Array;
}

export type EmscriptenFactory<T extends EmscriptenInstance> = (options: EmscriptenModuleOptions) => Promise<T>;

/** The ImageData-shaped object the decoders return: RGBA, 4 bytes per pixel. */
export interface DecodedImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** The decoder's RGBA as stored pixels, viewing the same buffer (no copy). */
export function rgbaPixels(image: DecodedImage): StoredPixels {
  const { width, height, data } = image;
  return { width, height, channels: 4, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export type EmscriptenOutcome<R> =
  | { ok: true; value: R; messages: string[] }
  | { ok: false; error: unknown; messages: string[] };

/**
 * What the decoders return through embind's `new ImageData(data, width, height)`. workerd and Node have no
 * ImageData; the @jsquash glue then defines one on globalThis, but inside its module factory, so that class's closure
 * would pin the first decoder instance (its whole grown wasm heap and its last image, ~100 MB after a 12 MP image)
 * for the life of the isolate. Defining this trivial class first, outside any instance, avoids the leak.
 */
class DecodedImageData implements DecodedImage {
  constructor(
    readonly data: Uint8ClampedArray,
    readonly width: number,
    readonly height: number,
  ) {}
}

function ensureImageDataGlobal(): void {
  if (!('ImageData' in globalThis)) {
    Object.defineProperty(globalThis, 'ImageData', { value: DecodedImageData, writable: true, configurable: true });
  }
}

export function emscriptenRunner<T extends EmscriptenInstance>(
  factory: EmscriptenFactory<T>,
  wasm: WebAssembly.Module,
) {
  let instance: Promise<{ module: T; initialHeap: number }> | undefined;
  let messages: string[] = [];
  const capture = (message: string) => messages.push(message);

  const create = async () => {
    ensureImageDataGlobal();
    const module = await factory({
      noInitialRun: true,
      print: capture,
      printErr: capture,
      // Instantiating a precompiled module is allowed in workerd (compiling bytes at run time is not).
      instantiateWasm: (imports, receive) => {
        const created = new WebAssembly.Instance(wasm, imports);
        receive(created);
        return created.exports;
      },
    });
    return { module, initialHeap: module.HEAPU8.length };
  };

  /** `call` must be synchronous, so that the captured messages are its own. */
  return async function run<R>(call: (module: T) => R): Promise<EmscriptenOutcome<R>> {
    let current: { module: T; initialHeap: number };
    for (;;) {
      const pending = (instance ??= create());
      try {
        current = await pending;
      } catch (error) {
        if (instance === pending) instance = undefined;
        throw error;
      }
      // A concurrent call may have dropped this instance (aborted, or its heap grew) while we waited.
      if (instance === pending) break;
    }
    messages = [];
    try {
      const value = call(current.module);
      if (current.module.HEAPU8.length > current.initialHeap) instance = undefined;
      return { ok: true, value, messages };
    } catch (error) {
      instance = undefined;
      return { ok: false, error, messages };
    }
  };
}
