/** Messages between the Node server and its inference thread (threaded-backend.ts ⇄ inference-thread.ts). */
export type ThreadRequest =
  | { id: number; op: 'load'; model: Uint8Array }
  | { id: number; op: 'run'; session: number; input: Float32Array; dims: number[] }
  | { id: number; op: 'release'; session: number };

export type ThreadReply =
  | { id: number; ok: true; session: number; inputName: string; outputName: string }
  | { id: number; ok: true; data: Float32Array; dims: number[]; embedding?: { data: Float32Array; dims: number[] } }
  | { id: number; ok: true }
  | { id: number; ok: false; message: string };
