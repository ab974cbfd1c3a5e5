// The model whose session the deployed entry (cloudflare.ts) creates at isolate start-up, bundled as a Data module
// (wrangler.toml [[rules]]): DEFAULT_MODEL's file in the edge build. scripts/lib/local-edge.ts replaces this module
// with one for the folder and default it serves (through wrangler's [alias]); a mismatch only costs start-up time,
// never a wrong answer.
// biome-ignore lint/style/noRestrictedImports: the build's output, not the toolchain's code: the bytes are bundled
export { default } from '../../../models/build/edge/efficientvit_m0.int8.onnx';
