/**
 * One checkpoint → one checked ONNX model (`npm run models -- convert`): the same checks as the build — weights
 * read and validated (finite, the variant's shapes), the fp32 export matched against the float64 reference — so
 * that a damaged checkpoint fails here instead of producing a model that outputs NaN. The caller writes the bytes.
 */
import { validateStateDict } from '../efficientvit.js';
import { syntheticInputs } from './build.js';
import { readCheckpoint } from './checkpoint/index.js';
import { exportOnnx, type GraphKind } from './export/index.js';
import { EDGE_RECIPE, quantizeModel } from './quantize/index.js';
import { checkAgainstReference, checkFiniteOutput } from './verify/reference-check.js';
import type { Variant } from '../../worker/core/manifest/manifest.js';
import type { ToolchainHost } from './host.js';

export interface ConvertOptions {
  variant: Variant;
  /** Names the checkpoint in error messages (its path). */
  source?: string;
  graph?: GraphKind;
  int8?: boolean;
  host: ToolchainHost;
}

export interface Converted {
  onnx: Uint8Array;
  /** Of the fp32 export, on one synthetic input. */
  maxAbsDiffVsReference: number;
}

export async function convertCheckpoint(bytes: Uint8Array, options: ConvertOptions): Promise<Converted> {
  const { variant } = options;
  const { stateDict } = readCheckpoint(bytes, options.source);
  const weights = validateStateDict(stateDict, variant);
  const fp32 = exportOnnx(weights, variant, { graph: options.graph ?? 'optimized' });
  const backend = options.host.cpuBackend();
  const [input] = syntheticInputs(1);
  const { maxAbsDiff: maxAbsDiffVsReference } = await checkAgainstReference(backend, fp32, weights, variant, [input]);
  if (!options.int8) return { onnx: fp32, maxAbsDiffVsReference };
  const int8 = await quantizeModel(fp32, [], EDGE_RECIPE);
  await checkFiniteOutput(backend, int8, input, `${variant} int8 model`);
  return { onnx: int8, maxAbsDiffVsReference };
}
