/**
 * Worker for workerd.ts: PUT stores a JPEG in the isolate, GET /?decoder=…&scale=N decodes it once and
 * answers with the output size and the decoder's wasm memory size (timing is taken outside: workerd's clocks
 * only advance on I/O).
 */
import mozjpegFactory from '@jsquash/jpeg/codec/dec/mozjpeg_dec.js';
import mozjpegWasm from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm';
import { createJpegDecoder, type ScaleDenom } from '../../../wasm/jpeg/index.js';
import jpegWasm from '../../../wasm/jpeg/jpeg.wasm';

interface Mozjpeg {
  decode(bytes: Uint8Array, preserveOrientation: boolean): { width: number; height: number } | null;
  HEAPU8: Uint8Array;
}

let stored: Uint8Array | undefined;
const decoder = createJpegDecoder(jpegWasm, { maxOutputPixels: 32 * 2 ** 20 });
let mozjpeg: Promise<Mozjpeg> | undefined;

function loadMozjpeg(): Promise<Mozjpeg> {
  return (mozjpegFactory as unknown as (options: object) => Promise<Mozjpeg>)({
    noInitialRun: true,
    instantiateWasm: (imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void) => {
      const instance = new WebAssembly.Instance(mozjpegWasm, imports);
      receive(instance);
      return instance.exports;
    },
  });
}

export default {
  async fetch(request: Request): Promise<Response> {
    if (request.method === 'PUT') {
      stored = new Uint8Array(await request.arrayBuffer());
      return new Response('stored');
    }
    if (!stored) return new Response('PUT a JPEG first', { status: 400 });
    const url = new URL(request.url);
    if (url.searchParams.get('decoder') === 'jsquash') {
      const module = await (mozjpeg ??= loadMozjpeg());
      const image = module.decode(stored, false);
      if (!image) return new Response('decode failed', { status: 500 });
      return Response.json({ width: image.width, height: image.height, wasmMemoryBytes: module.HEAPU8.length });
    }
    const decoded = decoder.decode(stored, { scaleDenom: Number(url.searchParams.get('scale') ?? 1) as ScaleDenom });
    return Response.json({ width: decoded.width, height: decoded.height, wasmMemoryBytes: decoded.wasmMemoryBytes });
  },
};
