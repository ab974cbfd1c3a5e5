/**
 * The verify step: a candidate model (e.g. int8) against its reference (fp32) in each backend — agreement on
 * held-out images, file sizes, warm latencies side by side — and a plain-text table of the result.
 */
import type { InferenceBackend } from '../../../worker/core/inference/backend.js';
import { formatTable } from '../table.js';
import { compareModels, type AgreementMetrics } from './compare.js';
import { asBatch, type ImageInput } from './images.js';
import { measureLatencies, type LatencyOptions, type LatencyStats } from './latency.js';

export interface VerifyModel {
  /** e.g. 'efficientvit_m0.int8' */
  name: string;
  bytes: Uint8Array;
}

export interface VerifyOptions {
  candidate: VerifyModel;
  reference: VerifyModel;
  backends: readonly InferenceBackend[];
  /** Held-out preprocessed images (never the calibration images). */
  images: readonly ImageInput[];
  /** Latency is measured on the first image; `false` skips it. */
  latency?: LatencyOptions | false;
}

export interface BackendVerification {
  backend: string;
  agreement: AgreementMetrics;
  latency?: { candidate: LatencyStats; reference: LatencyStats; speedup: number };
}

export interface VerifyReport {
  candidate: { name: string; bytes: number };
  reference: { name: string; bytes: number };
  /** reference bytes / candidate bytes */
  sizeRatio: number;
  backends: BackendVerification[];
}

export async function verifyModels(options: VerifyOptions): Promise<VerifyReport> {
  if (options.images.length === 0) throw new Error('verify needs at least one held-out image');
  const results: BackendVerification[] = [];
  for (const backend of options.backends) {
    const candidate = await backend.load(options.candidate.bytes);
    const reference = await backend.load(options.reference.bytes);
    try {
      const agreement = await compareModels(candidate, reference, options.images);
      const result: BackendVerification = { backend: backend.name, agreement };
      if (options.latency !== false) {
        const first = asBatch(options.images[0]);
        const one = {
          data: first.data.subarray(0, first.data.length / first.dims[0]),
          dims: [1, ...first.dims.slice(1)],
        };
        const stats = await measureLatencies({ candidate, reference }, one, options.latency);
        result.latency = { ...stats, speedup: stats.reference.medianMs / stats.candidate.medianMs };
      }
      results.push(result);
    } finally {
      await candidate.release();
      await reference.release();
    }
  }
  return {
    candidate: { name: options.candidate.name, bytes: options.candidate.bytes.byteLength },
    reference: { name: options.reference.name, bytes: options.reference.bytes.byteLength },
    sizeRatio: options.reference.bytes.byteLength / options.candidate.bytes.byteLength,
    backends: results,
  };
}

const megabytes = (bytes: number) => Number((bytes / 1e6).toFixed(2));
const percent = (share: number) => `${(share * 100).toFixed(1)}%`;

/** One row per backend, plus a header line with the sizes. */
export function formatVerifyReport(report: VerifyReport): string {
  const header =
    `${report.candidate.name} ${megabytes(report.candidate.bytes)} MB vs ${report.reference.name} ` +
    `${megabytes(report.reference.bytes)} MB: ${report.sizeRatio.toFixed(2)}× smaller`;
  const rows = report.backends.map((b) => ({
    backend: b.backend,
    images: b.agreement.images,
    'top-1 agree': percent(b.agreement.top1Agreement),
    'top-5 overlap': percent(b.agreement.top5Overlap),
    'mean cos': b.agreement.meanCosine.toFixed(4),
    'min cos': b.agreement.minCosine.toFixed(4),
    'rel. error': percent(b.agreement.meanRelativeError),
    'max |Δlogit|': Number(b.agreement.maxAbsDiff.toPrecision(3)),
    'candidate ms': b.latency ? Number(b.latency.candidate.medianMs.toFixed(2)) : '-',
    'reference ms': b.latency ? Number(b.latency.reference.medianMs.toFixed(2)) : '-',
    speedup: b.latency ? `${b.latency.speedup.toFixed(2)}×` : '-',
  }));
  return `${header}\n${formatTable(rows)}`;
}
