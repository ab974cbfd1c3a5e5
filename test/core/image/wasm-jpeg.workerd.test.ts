// The libjpeg-turbo wasm decoder inside workerd: the .wasm import arrives precompiled, instantiation is allowed,
// and errors thrown by the jd_fail import unwind through wasm as they do in Node.
import { describe, expect, it } from 'vitest';
import jpegWasm from '../../../wasm/jpeg/jpeg.wasm';
import { createJpegDecoder, JpegDecodeError } from '../../../wasm/jpeg/index.js';

// 32×24 baseline 4:2:0 q90 JPEG of a test pattern (red/green ramps, blue checkerboard), made with sharp 0.34.5.
const SMALL_JPEG = base64(
  '/9j/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBD' +
    'AQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wAARCAAYACAD' +
    'ASIAAhEBAxEB/8QAGAABAQEBAQAAAAAAAAAAAAAABwACBQj/xAAaEAABBQEAAAAAAAAAAAAAAAAABQYjMaEy/8QAFwEAAwEAAAAA' +
    'AAAAAAAAAAAABgcICf/EACoRAAEACAENAAAAAAAAAAAAABEABAUGEhQhIgMHFyMkMUFTYYGCksLw/9oADAMBAAIRAxEAPwDwSkMP' +
    'mPBsSWHUeCsksTmPDKSxKjwZC68WbU3TEx2QweZMfIDeaDDsvVOQ3AddqFCSw6jwbEhh8x4KySxKjwyksTmPAEXXizam6YmOyGDz' +
    'Jj5AbzSsHZeqchuA67U5iQw+Y8GtJYdR4RC2ydL2PrteH7plQx2isaO76iZSWHUeDWkMPmPCIBMnS7j67Xh+6Vgx2isaO76if//Z',
);
// SHA-256 of its RGB decode by sharp (libvips + libjpeg defaults) at 1/1, and by native libjpeg-turbo 2.1.5
// (`djpeg -dct int -scale 1/2`) at 1/2.
const SMALL_FULL_SHA256 = 'f3358392c1b35eca503adcb251e424da029607370ad415f891bb29e6919b178a';
const SMALL_HALF_SHA256 = '8e51114ef8986360b3fffd49506d4edff9b5db6ad2f7c7f55ea268d4391a8763';

// 640×640 progressive JPEG of one color (made from (90, 140, 200) with sharp 0.34.5; decodes to (90, 140, 199)):
// a 2.9 KB file whose coefficient buffer (1.2 MB) makes libjpeg grow the wasm memory past its initial 1 MiB.
const SOLID_PROGRESSIVE_JPEG = base64(
  '/9j/2wBDAAMCAgMCAgMDAwMEAwMEBQgFBQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBD' +
    'AQMEBAUEBQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBT/wgARCAKAAoAD' +
    'ASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAP/xAAVAQEBAAAAAAAAAAAAAAAAAAAABv/aAAwDAQACEAMQAAABqLKXAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' +
    'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA//8QA' +
    'FBABAAAAAAAAAAAAAAAAAAAAwP/aAAgBAQABBQJIB//EABQRAQAAAAAAAAAAAAAAAAAAAKD/2gAIAQMBAT8BSB//xAAUEQEAAAAA' +
    'AAAAAAAAAAAAAACg/9oACAECAQE/AUgf/8QAFBABAAAAAAAAAAAAAAAAAAAAwP/aAAgBAQAGPwJIB//EABQQAQAAAAAAAAAAAAAA' +
    'AAAAAMD/2gAIAQEAAT8hSAf/2gAMAwEAAgADAAAAEPvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv' +
    'vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv/EABQRAQAAAAAAAAAAAAAAAAAAAKD/2gAIAQMBAT8QSB//xAAUEQEAAAAA' +
    'AAAAAAAAAAAAAACg/9oACAECAQE/EEgf/8QAFBABAAAAAAAAAAAAAAAAAAAAwP/aAAgBAQABPxBIB//Z',
);

function base64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

async function sha256(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

function decodeError(fn: () => unknown): JpegDecodeError {
  try {
    fn();
  } catch (error) {
    if (error instanceof JpegDecodeError) return error;
    throw error;
  }
  throw new Error('expected a JpegDecodeError');
}

describe('wasm/jpeg in workerd', () => {
  it('gets jpeg.wasm as a precompiled WebAssembly.Module', () => {
    expect(jpegWasm).toBeInstanceOf(WebAssembly.Module);
    const imports = WebAssembly.Module.imports(jpegWasm).map((i) => `${i.module}.${i.name}`);
    expect(imports.sort()).toEqual(['env.jd_fail', 'env.memory']);
  });

  it('decodes at 1/1 and 1/2 exactly as libjpeg-turbo does natively', async () => {
    const decoder = createJpegDecoder(jpegWasm);
    expect(decoder.readHeader(SMALL_JPEG)).toEqual({
      width: 32,
      height: 24,
      components: 3,
      colorSpace: 'rgb',
      progressive: false,
    });
    const full = decoder.decode(SMALL_JPEG);
    expect(full).toMatchObject({ width: 32, height: 24, colorSpace: 'rgb', channels: 3, adobe: false, warnings: 0 });
    expect(await sha256(full.data)).toBe(SMALL_FULL_SHA256);
    const half = decoder.decode(SMALL_JPEG, { scaleDenom: 2 });
    expect(half).toMatchObject({ width: 16, height: 12, channels: 3 });
    expect(await sha256(half.data)).toBe(SMALL_HALF_SHA256);
  });

  it('grows its memory for a progressive file and decodes it at 1/1 and 1/8', () => {
    const decoder = createJpegDecoder(jpegWasm);
    expect(decoder.readHeader(SOLID_PROGRESSIVE_JPEG)).toMatchObject({ width: 640, height: 640, progressive: true });
    for (const [scaleDenom, size] of [
      [1, 640],
      [8, 80],
    ] as const) {
      const decoded = decoder.decode(SOLID_PROGRESSIVE_JPEG, { scaleDenom });
      expect(decoded).toMatchObject({ width: size, height: size, channels: 3 });
      expect(decoded.wasmMemoryBytes).toBeGreaterThan(1024 * 1024);
      const offColor = decoded.data.findIndex((v, i) => v !== [90, 140, 199][i % 3]);
      expect(offColor).toBe(-1);
    }
  });

  it('reports truncated and non-JPEG input by code, then decodes again', async () => {
    const decoder = createJpegDecoder(jpegWasm);
    const truncated = decodeError(() => decoder.decode(SMALL_JPEG.subarray(0, 400)));
    expect(truncated.code).toBe('corrupt-image');
    expect(truncated.message).toBe('Premature end of JPEG file');
    const notJpeg = decodeError(() => decoder.decode(new TextEncoder().encode('GIF89a not a jpeg')));
    expect(notJpeg.code).toBe('unsupported-format');
    expect(notJpeg.message).toBe('Not a JPEG file: starts with 0x47 0x49');
    const tooLarge = decodeError(() => createJpegDecoder(jpegWasm, { maxOutputPixels: 100 }).decode(SMALL_JPEG));
    expect(tooLarge.code).toBe('image-too-large');
    expect(await sha256(decoder.decode(SMALL_JPEG).data)).toBe(SMALL_FULL_SHA256);
  });
});
