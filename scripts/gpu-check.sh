#!/usr/bin/env bash
# GPU host check, in one go: installs onnxruntime-node's CUDA execution provider, builds the models (fp32, int8,
# fp16), runs the golden-parity conformance cases on CUDA (decoding on the HTTP thread and through the decode pool),
# compares fp16 with fp32 on CUDA, and benchmarks the Node server on CUDA (fp32 and fp16, batching off/on, 1 and
# all-but-one decode threads) next to a CPU baseline on the same machine. Everything it prints is also written to $OUT
# (default ./gpu-check-out).
#
#   scripts/gpu-check.sh [CHECKPOINTS_DIR]        # or CHECKPOINTS=DIR scripts/gpu-check.sh
#   STEPS="install models" scripts/gpu-check.sh   # only some steps: what the Dockerfile runs (no GPU needed)
#
# Needs: Linux x64, an NVIDIA driver (nvidia-smi), CUDA 12 runtime + cuDNN 9 libraries on the loader path (the CUDA
# provider of onnxruntime-node 1.30 links against them; see docs/node.md), Node ≥ 20.19, network access to the npm
# registry and to api.nuget.org (the CUDA provider is downloaded from NuGet by onnxruntime-node's install script).
# Without a checkpoints directory, `npm run models -- build` fetches the official checkpoints itself.
# Golden parity needs the project's shared test data next to the repository (../shared); without it, that step is
# skipped and says so.
#
# Environment: OUT (results dir), VARIANTS (default m0,m1,m2,m3,m4,m5), BENCH_VARIANTS (default m0,m5),
# BENCH_CONCURRENCY (default 16,64), BENCH_DURATION (seconds per run, default 5), BENCH_ROUNDS (default 1; sized for
# a ~15-minute GPU loan: install, M0–M5 builds and the benchmarks),
# BATCH_MAX (default 32), SKIP_INSTALL=1 (reuse node_modules as they are), PRECISIONS (default fp32,int8,fp16),
# STEPS (default: environment install models parity fp16 bench; the Dockerfile runs "install" and "models").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$PWD"
OUT="${OUT:-$REPO/gpu-check-out}"
CHECKPOINTS="${1:-${CHECKPOINTS:-}}"
VARIANTS="${VARIANTS:-m0,m1,m2,m3,m4,m5}"
BENCH_VARIANTS="${BENCH_VARIANTS:-m0,m5}"
BENCH_CONCURRENCY="${BENCH_CONCURRENCY:-16,64}"
BENCH_DURATION="${BENCH_DURATION:-5}"
BENCH_ROUNDS="${BENCH_ROUNDS:-1}"
BATCH_MAX="${BATCH_MAX:-32}"
PRECISIONS="${PRECISIONS:-fp32,int8,fp16}"
STEPS=" ${STEPS:-environment install models parity fp16 bench} "
DECODE_THREADS="$(( $(nproc) > 1 ? $(nproc) - 1 : 1 ))"
ORT_BIN="$REPO/node_modules/onnxruntime-node/bin/napi-v6/linux/x64"

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
exec > >(tee "$OUT/gpu-check.log") 2>&1

declare -A RESULT=()
step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }
wants() { [[ "$STEPS" == *" $1 "* ]]; }
fail() { echo "gpu-check: $*" >&2; exit 1; }

[[ "$(uname -s)/$(uname -m)" == "Linux/x86_64" ]] || fail "the CUDA provider of onnxruntime-node exists for Linux x64 only"
if wants environment; then
step "environment"
command -v nvidia-smi >/dev/null || fail "nvidia-smi not found: this script needs an NVIDIA GPU and driver"
{
  date -u
  uname -a
  echo "node $(node --version), npm $(npm --version)"
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv
  nvidia-smi
  nproc
} | tee "$OUT/environment.txt"
fi

if wants install; then
step "install (npm ci, then onnxruntime-node's CUDA 12 provider from NuGet)"
if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
  # npm ci is CPU-only (package.json allowScripts skips onnxruntime-node's download script); install:cuda runs that
  # script with the CUDA 12 provider named (node_modules/onnxruntime-node/script/install.js, docs/operations.md).
  npm ci --no-audit --no-fund
  npm run install:cuda
fi
[[ -f "$ORT_BIN/libonnxruntime_providers_cuda.so" ]] || fail "libonnxruntime_providers_cuda.so is missing from $ORT_BIN"
# Every library the provider needs must resolve, or onnxruntime reports "Failed to load shared library" later.
if ldd "$ORT_BIN/libonnxruntime_providers_cuda.so" | tee "$OUT/cuda-provider-ldd.txt" | grep -q 'not found'; then
  grep 'not found' "$OUT/cuda-provider-ldd.txt"
  fail "CUDA 12 / cuDNN 9 libraries are missing (list above): install them (docs/node.md) or add them to LD_LIBRARY_PATH"
fi
node -e "console.log('onnxruntime-node backends:', JSON.stringify(require('onnxruntime-node').listSupportedBackends()))"
fi

if wants models; then
step "build models ($VARIANTS; $PRECISIONS)"
if [[ -n "$CHECKPOINTS" ]]; then
  CHECKPOINTS="$(cd "$CHECKPOINTS" && pwd)"
  EFFICIENTVIT_CHECKPOINTS="$CHECKPOINTS" npm run models -- build --variants "$VARIANTS" --precisions "$PRECISIONS" \
    --checkpoints "$CHECKPOINTS"
else
  npm run models -- build --variants "$VARIANTS" --precisions "$PRECISIONS"
fi
cp models/build/node/manifest.json "$OUT/manifest.json"
fi

if wants parity; then
step "golden parity on CUDA (the shared conformance cases, fp32 M0/M1 vs the official PyTorch logits; HTTP-thread decoding and the decode pool)"
if [[ -d "$REPO/../shared/fixtures/golden" ]]; then
  # cuDNN/cuBLAS may use TF32 for fp32 convolutions on Ampere and newer (onnxruntime's CUDA provider allows it by
  # default, and the Node binding cannot change it); parity is checked in strict fp32.
  if NVIDIA_TF32_OVERRIDE=0 CONFORMANCE_DEVICE=cuda npx vitest run --project node test/service/conformance/node.test.ts \
      test/service/conformance/node-pool.test.ts \
      --reporter=verbose --reporter=junit --outputFile.junit="$OUT/conformance-cuda.junit.xml"; then
    RESULT[parity]=pass
  else
    RESULT[parity]=FAIL
  fi
else
  echo "skipped: $REPO/../shared (golden logits, sample images, synthetic checkpoints) is not present"
  RESULT[parity]=skipped
fi
fi

if wants fp16; then
step "fp16 against fp32 on CUDA (fp16 kernels; top-1/top-5 agreement, max |Δlogit|, latency)"
if [[ -d "$REPO/../shared/images/imagenet-sample" ]]; then
  if npm run models -- verify --device cuda --images "$REPO/../shared/images/imagenet-sample" | tee "$OUT/verify-cuda.txt"; then
    RESULT[fp16]=pass
  else
    RESULT[fp16]=FAIL
  fi
else
  echo "skipped: $REPO/../shared/images/imagenet-sample is not present"
  RESULT[fp16]=skipped
fi
fi

if wants bench; then
step "benchmark: CUDA fp32 and fp16 (batching off/on, decode threads 1 and $DECODE_THREADS), then the CPU baseline"
bench() {
  local name="$1"
  shift
  if npm run bench:node -- --models models/build/node --variants "$BENCH_VARIANTS" --concurrency "$BENCH_CONCURRENCY" \
      --duration "$BENCH_DURATION" --rounds "$BENCH_ROUNDS" --batch-max "$BATCH_MAX" --batching off,on \
      --json "$OUT/bench-$name.json" "$@" | tee "$OUT/bench-$name.txt"; then
    RESULT[bench-$name]=pass
  else
    RESULT[bench-$name]=FAIL
  fi
}
bench cuda --device cuda --decode-threads "$(sort -un <<<$'1\n'"$DECODE_THREADS" | paste -sd,)" --inference-batches 1,8,16,32,64
bench cuda-fp16 --device cuda --precision fp16 --decode-threads "$DECODE_THREADS" --inference-batches 1,8,16,32,64
bench cpu --device cpu --decode-threads "$DECODE_THREADS" --inference-batches 1,16
fi

step "summary"
status=0
for key in parity fp16 bench-cuda bench-cuda-fp16 bench-cpu; do
  [[ -n "${RESULT[$key]:-}" ]] || continue
  echo "$key: ${RESULT[$key]}" | tee -a "$OUT/summary.txt"
  [[ "${RESULT[$key]}" == FAIL ]] && status=1
done
echo "results in $OUT"
exit "$status"
