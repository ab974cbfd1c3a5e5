/** Messages between the decode pool (decode-pool.ts) and its threads (decode-thread.ts). */
import type { ProblemCode } from '../../api/problems.js';
import type { ImageJob, ImageTiming } from '../../core/model-input/image-input.js';

export interface DecodeRequest {
  id: number;
  bytes: Uint8Array;
  job: ImageJob;
  /** The batch tensor's memory: the thread writes the image's rows into it, no copy back. */
  out: SharedArrayBuffer;
  /** Float32 element offset of the image in `out`. */
  offset: number;
  elements: number;
}

export type DecodeReply =
  | { id: number; ok: true; timing: ImageTiming }
  /** An ApiError from the decoders, rebuilt on the other side with the same code and details. */
  | {
      id: number;
      ok: false;
      problem: {
        code: ProblemCode;
        message: string;
        details: Record<string, unknown>;
        headers: Record<string, string>;
      };
    }
  /** Anything else: a bug, answered 500 as on one thread. */
  | { id: number; ok: false; bug: string };
