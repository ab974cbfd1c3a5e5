#!/usr/bin/env bash
# GPU host check, in one go: installs onnxruntime-node's CUDA execution provider, builds the fp32 models, runs the
# golden-parity conformance cases on CUDA, and benchmarks the Node server on CUDA next to a CPU baseline on the same
# machine. Everything it prints is also written to $OUT (default ./gpu-check-out).
#
#   scripts/gpu-check.sh [CHECKPOINTS_DIR]        # or CHECKPOINTS=DIR scripts/gpu-check.sh
#
# Needs: Linux x64, an NVIDIA driver (nvidia-smi), CUDA 12 runtime + cuDNN 9 libraries on the loader path (the CUDA
# provider of onnxruntime-node 1.30 links against them; see docs/node.md), Node ≥ 20.19, network access to the npm
# registry and to api.nuget.org (the CUDA provider is downloaded from NuGet by onnxruntime-node's install script).
# Without a checkpoints directory, `npm run models -- build` fetches the official checkpoints itself.
# Golden parity needs the project's shared test data next to the repository (../shared); without it, that step is
# skipped and says so.
#
# Environment: OUT (results dir), VARIANTS (default m0,m1,m2,m3,m4,m5), BENCH_VARIANTS (default m0,m5),
# BENCH_CONCURRENCY (default 1,8,32,64), BENCH_DURATION (seconds per run, default 10), BENCH_ROUNDS (default 3),
# BATCH_MAX (default 32), SKIP_INSTALL=1 (reuse node_modules as they are).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
OUT="${OUT:-$REPO/gpu-check-out}"
CHECKPOINTS="${1:-${CHECKPOINTS:-}}"
VARIANTS="${VARIANTS:-m0,m1,m2,m3,m4,m5}"
BENCH_VARIANTS="${BENCH_VARIANTS:-m0,m5}"
BENCH_CONCURRENCY="${BENCH_CONCURRENCY:-1,8,32,64}"
BENCH_DURATION="${BENCH_DURATION:-10}"
BENCH_ROUNDS="${BENCH_ROUNDS:-3}"
BATCH_MAX="${BATCH_MAX:-32}"
ORT_BIN="$REPO/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
exec > >(tee "$OUT/gpu-check.log") 2>&1

declare -A RESULT=()
step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }
fail() { echo "gpu-check: $*" >&2; exit 1; }

step "environment"
[[ "$(uname -s)/$(uname -m)" == "Linux/x86_64" ]] || fail "the CUDA provider of onnxruntime-node exists for Linux x64 only"
command -v nvidia-smi >/dev/null || fail "nvidia-smi not found: this script needs an NVIDIA GPU and driver"
{
  date -u
  uname -a
  echo "node $(node --version), npm $(npm --version)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
  nvidia-smi
  nproc
} | tee "$OUT/environment.txt"

step "install (npm ci, then onnxruntime-node's CUDA 12 provider from NuGet)"
if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
  # The install script downloads the provider when ONNXRUNTIME_NODE_INSTALL names it (node_modules/onnxruntime-node/
  # script/install.js); `npm rebuild` reruns it for a node_modules that was installed with the download skipped.
  ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci --no-audit --no-fund
  [[ -f "$ORT_BIN/libonnxruntime_providers_cuda.so" ]] || ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node
fi
[[ -f "$ORT_BIN/libonnxruntime_providers_cuda.so" ]] || fail "libonnxruntime_providers_cuda.so is missing from $ORT_BIN"
# Every library the provider needs must resolve, or onnxruntime reports "Failed to load shared library" later.
if ldd "$ORT_BIN/libonnxruntime_providers_cuda.so" | tee "$OUT/cuda-provider-ldd.txt" | grep -q 'not found'; then
  grep 'not found' "$OUT/cuda-provider-ldd.txt"
  fail "CUDA 12 / cuDNN 9 libraries are missing (list above): install them (docs/node.md) or add them to LD_LIBRARY_PATH"
fi
node -e "console.log('onnxruntime-node backends:', JSON.stringify(require('onnxruntime-node').listSupportedBackends()))"

step "build models ($VARIANTS)"
if [[ -n "$CHECKPOINTS" ]]; then
  CHECKPOINTS="$(cd "$CHECKPOINTS" && pwd)"
  EFFICIENTVIT_CHECKPOINTS="$CHECKPOINTS" npm run models -- build --variants "$VARIANTS" --checkpoints "$CHECKPOINTS"
else
  npm run models -- build --variants "$VARIANTS"
fi
cp models/build/node/manifest.json "$OUT/manifest.json"

step "golden parity on CUDA (the shared conformance cases, fp32 M0/M1 vs the official PyTorch logits)"
if [[ -d "$REPO/../shared/fixtures/golden" ]]; then
  # cuDNN/cuBLAS may use TF32 for fp32 convolutions on Ampere and newer (onnxruntime's CUDA provider allows it by
  # default, and the Node binding cannot change it); parity is checked in strict fp32.
  if NVIDIA_TF32_OVERRIDE=0 CONFORMANCE_DEVICE=cuda npx vitest run --project node test/node/server-conformance.test.ts \
      --reporter=verbose --reporter=junit --outputFile.junit="$OUT/conformance-cuda.junit.xml"; then
    RESULT[parity]=pass
  else
    RESULT[parity]=FAIL
  fi
else
  echo "skipped: $REPO/../shared (golden logits, sample images, synthetic checkpoints) is not present"
  RESULT[parity]=skipped
fi

step "benchmark: CUDA (batching off/on), then the CPU baseline on this machine"
for device in cuda cpu; do
  if npm run bench:node -- --device "$device" --models models/build/node --variants "$BENCH_VARIANTS" \
      --concurrency "$BENCH_CONCURRENCY" --duration "$BENCH_DURATION" --rounds "$BENCH_ROUNDS" --batch-max "$BATCH_MAX" \
      --json "$OUT/bench-$device.json" | tee "$OUT/bench-$device.txt"; then
    RESULT[bench-$device]=pass
  else
    RESULT[bench-$device]=FAIL
  fi
done

step "summary"
status=0
for key in parity bench-cuda bench-cpu; do
  echo "$key: ${RESULT[$key]}" | tee -a "$OUT/summary.txt"
  [[ "${RESULT[$key]}" == FAIL ]] && status=1
done
echo "results in $OUT"
exit "$status"
