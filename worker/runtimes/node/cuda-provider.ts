/**
 * Node only: whether onnxruntime-node's CUDA provider files are installed. Without them a CUDA session fails, and
 * onnxruntime prints "Failed to load library libonnxruntime_providers_shared.so" in red on stderr before the
 * error reaches us; checking the files first keeps a CPU host's `--device auto` to the one fallback line.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { NodeDevice } from './inference/ort-node.js';

/** What the install script puts beside the binding (docs/node.md, "Installing the CUDA provider"). */
const CUDA_PROVIDER_FILES = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'];

export function cudaProviderMissing(
  platform: string = process.platform,
  arch: string = process.arch,
  binDir: string = ortNodeBinDir(platform, arch),
): string | undefined {
  if (platform !== 'linux' || arch !== 'x64') return `onnxruntime-node has no CUDA provider for ${platform}/${arch}`;
  const missing = CUDA_PROVIDER_FILES.filter((file) => !existsSync(path.join(binDir, file)));
  if (missing.length === 0) return undefined;
  return `its provider is not installed: no ${missing.join(' or ')} in ${binDir} (docs/node.md)`;
}

/** The device check chooseDevice takes: only CUDA has files to look for. */
export function deviceUnavailable(device: NodeDevice): string | undefined {
  return device === 'cuda' ? cudaProviderMissing() : undefined;
}

function ortNodeBinDir(platform: string, arch: string): string {
  const packageJson = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return path.join(path.dirname(packageJson), 'bin', 'napi-v6', platform, arch);
}
