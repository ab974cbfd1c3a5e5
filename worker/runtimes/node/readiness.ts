/**
 * Node only: what the Node build decides at start from its manifest (the default model) and GET /readyz, which answers
 * 200 once the default model is loaded and has classified an image (a load balancer's readiness probe; /healthz
 * stays a liveness check).
 */
import { crc32, deflateSync } from 'node:zlib';
import type { Manifest } from '../../core/manifest/manifest.js';
import { ApiError, problemResponse } from '../../service/problems.js';

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

const PRECISION_RANK: Record<string, number> = { fp32: 0, fp16: 1, int8: 2 };
const VARIANT_RANK = ['m0', 'm1', 'm2', 'm3', 'm4', 'm5'];

/** The largest variant built; of its files, the most precise (m5-fp32 over m5-int8). */
export function largestBuiltModel(manifest: Manifest): string | undefined {
  const ranked = [...manifest.models].sort(
    (a, b) =>
      VARIANT_RANK.indexOf(b.variant) - VARIANT_RANK.indexOf(a.variant) ||
      (PRECISION_RANK[a.precision] ?? 9) - (PRECISION_RANK[b.precision] ?? 9) ||
      a.name.localeCompare(b.name),
  );
  return ranked[0]?.name;
}

/** The default model to serve: the configured one, which must be built, or else the largest built. */
export function chooseDefaultModel(manifest: Manifest, configured: string | undefined, modelsDir: string): string {
  const built = manifest.models.map((model) => model.name);
  if (configured !== undefined) {
    if (built.includes(configured)) return configured;
    throw new StartupError(
      `DEFAULT_MODEL ${configured} is not built in ${modelsDir} (built: ${built.join(', ') || 'none'}); ` +
        `build it with \`npm run models -- build --variants ${configured.split('-')[0]}\` or set DEFAULT_MODEL to a built one`,
    );
  }
  const largest = largestBuiltModel(manifest);
  if (largest === undefined) throw new StartupError(`${modelsDir}/manifest.json lists no models: build some first`);
  return largest;
}

/** An 8×8 grey PNG: the image the warm-up request classifies. */
export function warmUpPng(): Uint8Array {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(8, 0);
  header.writeUInt32BE(8, 4);
  header.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale, no interlace
  const rows = Buffer.concat(Array.from({ length: 8 }, () => Buffer.from([0, ...new Array(8).fill(128)])));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

export interface Readiness {
  /** Runs the warm-up once; never throws. */
  warm(classify: (png: Uint8Array) => Promise<Response>): Promise<void>;
  response(): Response;
  /** true once the warm-up has classified its image. */
  ready(): boolean;
  /** Why it is not ready, or that it is. */
  describe(): string;
}

export function createReadiness(defaultModel: string): Readiness {
  let state: { ready: true } | { ready: false; reason: string } = {
    ready: false,
    reason: `loading ${defaultModel}`,
  };
  return {
    async warm(classify) {
      try {
        const response = await classify(warmUpPng());
        state = response.ok
          ? { ready: true }
          : { ready: false, reason: `warm-up request answered ${response.status}: ${await response.text()}` };
      } catch (error) {
        state = { ready: false, reason: `warm-up failed: ${error instanceof Error ? error.message : String(error)}` };
      }
    },
    ready: () => state.ready,
    describe: () => (state.ready ? 'has loaded and classified an image' : state.reason),
    response() {
      if (state.ready) return Response.json({ status: 'ready', model: defaultModel });
      return problemResponse(new ApiError('not-ready', state.reason, { details: { model: defaultModel } }));
    },
  };
}
