# The Node build on a GPU host: CUDA 12 + cuDNN 9 runtime (what onnxruntime-node 1.30's CUDA provider links against),
# Node 20, the CUDA provider installed and the models built by the same commands scripts/gpu-check.sh runs (its
# "install" and "models" steps), so the script that is run on GPU machines stands behind this image.
#
#   docker build -t efficientvit-node .                                        # official checkpoints, downloaded
#   docker build -t efficientvit-node --build-arg CHECKPOINTS=weights .        # or a folder in the build context
#   docker build -t efficientvit-node --build-arg VARIANTS= .                  # no models: mount them at run time
#   docker run --gpus all -p 8080:8080 efficientvit-node
#   docker run --gpus all -p 8080:8080 -v $PWD/models/build/node:/app/models/build/node:ro efficientvit-node
FROM node:20.19-bookworm-slim AS node

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
  && apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV OUT=/tmp/gpu-check-out

# Dependencies first (a layer that survives source edits): npm ci + the CUDA provider from NuGet, checked with ldd.
COPY package.json package-lock.json ./
COPY scripts/gpu-check.sh scripts/gpu-check.sh
RUN STEPS=install scripts/gpu-check.sh

COPY . .
# Models from checkpoints at build time (VARIANTS empty: none; mount a models/build/node folder instead).
ARG VARIANTS=m0,m1,m2,m3,m4,m5
ARG PRECISIONS=fp32,int8,fp16
ARG CHECKPOINTS=
RUN if [ -n "$VARIANTS" ]; then STEPS=models VARIANTS="$VARIANTS" PRECISIONS="$PRECISIONS" scripts/gpu-check.sh $CHECKPOINTS; fi

# Without npm in between, so SIGTERM reaches the server's graceful stop (docs/node.md).
EXPOSE 8080
STOPSIGNAL SIGTERM
CMD ["node", "--import", "tsx", "scripts/start-node.ts", "--port", "8080", "--device", "cuda"]
