/**
 * The one entry point for checkpoint files: sniffs the format from the bytes (never the name), reads it, and
 * returns the weights in official microsoft/Cream naming.
 */
import { assertFinite } from './finite.js';
import { readPth, type InertValue } from './pth.js';
import { readSafetensorsFile } from './safetensors.js';
import { toOfficialNames, usesTimmNames } from '../../efficientvit.js';
import { CheckpointError, type StateDict } from '../../state-dict.js';

export { CheckpointError, type StateDict, type Tensor, type TensorValues } from '../../state-dict.js';
export { GlobalRef } from './pickle.js';
export { TensorSummary, type InertValue } from './pth.js';

export type CheckpointFormat = 'pth' | 'safetensors';

export interface Checkpoint {
  format: CheckpointFormat;
  /** Official names, tensors as stored (1×1 convs may be 2-D; the model layer normalizes them). */
  stateDict: StateDict;
  /** Which naming the file used before mapping. */
  naming: 'official' | 'timm';
  /**
   * Everything besides the weights, as inert data: for a training .pth its other top-level entries
   * (`epoch`, `args` — argparse.Namespace as a plain record —, `optimizer` with tensors as TensorSummary, …);
   * for safetensors `{ metadata }`.
   */
  extras: Record<string, InertValue>;
}

export function sniffCheckpointFormat(bytes: Uint8Array): CheckpointFormat {
  if (bytes.byteLength >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04)
    return 'pth';
  // safetensors: 8-byte little-endian header length, then a JSON object.
  if (bytes.byteLength >= 9 && bytes[8] === 0x7b) {
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (headerLength >= 2n) return 'safetensors';
  }
  if (bytes.byteLength >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) {
    throw new CheckpointError(
      'unsupported-format',
      'legacy (pre-1.6) torch.save format; re-save it with a current PyTorch',
    );
  }
  throw new CheckpointError('unknown-format', 'neither a torch.save zip (.pth) nor a safetensors file');
}

export function readCheckpoint(bytes: Uint8Array, fileName?: string): Checkpoint {
  try {
    const format = sniffCheckpointFormat(bytes);
    if (format === 'pth') {
      const { stateDict, extras } = readPth(bytes);
      assertFinite(stateDict);
      return withOfficialNames({ format, stateDict, extras });
    }
    const { stateDict, metadata } = readSafetensorsFile(bytes);
    assertFinite(stateDict);
    return withOfficialNames({ format, stateDict, extras: { metadata } });
  } catch (error) {
    if (fileName && error instanceof CheckpointError)
      throw new CheckpointError(error.code, `${fileName}: ${error.message}`);
    throw error;
  }
}

function withOfficialNames(checkpoint: Omit<Checkpoint, 'naming'>): Checkpoint {
  if (!usesTimmNames(checkpoint.stateDict)) return { ...checkpoint, naming: 'official' };
  return { ...checkpoint, stateDict: toOfficialNames(checkpoint.stateDict), naming: 'timm' };
}
