// The model whose session the deployed entry (cloudflare.ts) creates at isolate start-up, bundled as a Data module
// (wrangler.toml [[rules]]): DEFAULT_MODEL's file in the edge build. scripts/local-edge.ts replaces this module with
// one for the folder and default it serves (through wrangler's [alias]); a mismatch only costs start-up time, never a wrong answer.
export { default } from '../../models/build/edge/efficientvit_m0.int8.onnx';
