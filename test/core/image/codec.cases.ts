/**
 * One contract, every image codec (worker/core/image/types.ts ImageCodec), as Hono runs one case file against each
 * router: on every fixture of its format (test/fixtures/images, written by scripts/make-image-fixtures.ts) the probe
 * reports the stored size and decode returns those pixels; on every broken fixture, and on every good one cut short,
 * the codec answers with its own ImageError — never another exception, never a hang. Runtime-neutral: the runner
 * supplies the codec and the bytes.
 */
import { problemStatus } from '../../../worker/api/problems.js';
import { describe, expect, it } from 'vitest';
import { ImageError } from '../../../worker/core/image/errors.js';
import type { ImageCodec, ImageFormat, ImageHeader } from '../../../worker/core/image/types.js';

export interface CodecFixture {
  file: string;
  format: ImageFormat;
  width: number;
  height: number;
  expected?: string;
  tolerance?: number;
  orientation?: number;
  error?: string;
}

export interface CodecTarget {
  format: ImageFormat;
  codec: ImageCodec;
  probe(bytes: Uint8Array): ImageHeader;
  fixtures: readonly CodecFixture[];
  read(file: string): Uint8Array;
}

/** Probe then decode, as decodeImage does: both steps may refuse the bytes. */
async function probeAndDecode(target: CodecTarget, bytes: Uint8Array) {
  target.probe(bytes);
  return target.codec.decode(bytes);
}

async function refusal(work: () => Promise<unknown>): Promise<ImageError> {
  try {
    await work();
  } catch (error) {
    expect(error, String(error)).toBeInstanceOf(ImageError);
    return error as ImageError;
  }
  throw new Error('expected the codec to refuse the bytes');
}

/** Written as errors for the first JPEG decoder; wasm/jpeg decodes them (test/core/image/decode.test.ts). */
const DECODED_SINCE: ReadonlySet<string> = new Set(['jpeg-cmyk.jpg']);

export function defineCodecSuite(target: () => CodecTarget): void {
  const { format, fixtures } = target();
  // Upright pixels differ from stored ones when the file is rotated; the codec returns them as stored.
  const decodable = fixtures.filter((f) => f.format === format && f.expected && (f.orientation ?? 1) === 1);
  // *-huge files are refused for their size by decodeImage's limits, before any codec runs.
  const broken = fixtures.filter(
    (f) => f.format === format && f.error && !f.file.includes('huge') && !DECODED_SINCE.has(f.file),
  );
  // Cut in half: inside the pixel data of every fixture (a file with trailing bytes after its image is excepted).
  const truncatable = decodable.filter((f) => !f.file.includes('excess'));

  describe(`ImageCodec contract: ${format}`, () => {
    it('has fixtures to check', () => {
      expect(decodable.length).toBeGreaterThan(0);
      expect(broken.length).toBeGreaterThan(0);
    });

    it.each(decodable.map((f) => [f.file, f] as const))(
      '%s: the probe reports the stored size, decode its pixels',
      async (_, fixture) => {
        const t = target();
        const bytes = t.read(fixture.file);
        expect(t.probe(bytes)).toMatchObject({ width: fixture.width, height: fixture.height });
        const pixels = await t.codec.decode(bytes);
        expect([pixels.width, pixels.height]).toEqual([fixture.width, fixture.height]);
        const expected = t.read(`expected/${fixture.expected}`);
        expect(pixels.data.length).toBe(fixture.width * fixture.height * pixels.channels);
        let maxDifference = 0;
        for (let i = 0, o = 0; o < expected.length; i += pixels.channels, o += 3) {
          for (let c = 0; c < 3; c++)
            maxDifference = Math.max(maxDifference, Math.abs(pixels.data[i + c] - expected[o + c]));
        }
        expect(maxDifference).toBeLessThanOrEqual(fixture.tolerance ?? 0);
      },
    );

    it.each(broken.map((f) => [f.file, f] as const))('%s: refused with an ImageError', async (_, fixture) => {
      const t = target();
      const error = await refusal(() => probeAndDecode(t, t.read(fixture.file)));
      expect(problemStatus(error.code)).toBeGreaterThanOrEqual(400);
      expect(problemStatus(error.code)).toBeLessThan(500);
    });

    it.each(truncatable.map((f) => [f.file, f] as const))(
      '%s cut in half: refused with an ImageError',
      async (_, fixture) => {
        const t = target();
        const bytes = t.read(fixture.file);
        const error = await refusal(() => probeAndDecode(t, bytes.subarray(0, Math.floor(bytes.length / 2))));
        expect(problemStatus(error.code)).toBeGreaterThanOrEqual(400);
        expect(problemStatus(error.code)).toBeLessThan(500);
      },
    );
  });
}
