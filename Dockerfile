# syntax=docker/dockerfile:1
# Two images from one file:
#   docker build -t llm-gateway .                         CPU (the default, last stage)
#   docker build -t llm-gateway:cuda --target cuda .      NVIDIA GPUs: run with --gpus all
# node-llama-cpp's prebuilt CUDA binaries come with the npm packages; the cuda stage adds the CUDA 13
# runtime libraries they link against (libcudart, libcublas). The driver comes from the host.
ARG NODE_IMAGE=node:24-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-runtime-ubuntu24.04

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# The application tree both images run.
FROM ${NODE_IMAGE} AS app
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
COPY src/playground/playground.html ./src/playground/
RUN mkdir -p /app/models

FROM ${CUDA_IMAGE} AS cuda
COPY --from=deps /usr/local/bin/node /usr/local/bin/node
RUN useradd --system --uid 10001 --create-home gateway
ENV NODE_ENV=production \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080 \
    GATEWAY_GPU=cuda \
    GATEWAY_LOG_FORMAT=json
WORKDIR /app
COPY --from=app /app /app
RUN ln -s /app/models /models && chown -R gateway /app/models
VOLUME ["/app/models"]
USER gateway
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s \
  CMD node -e "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/src/cli.js"]

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080 \
    GATEWAY_LOG_FORMAT=json
WORKDIR /app
COPY --from=app /app /app
# Models live outside the image: mount a folder of .gguf files at /models.
RUN ln -s /app/models /models && chown -R node:node /app/models
VOLUME ["/app/models"]
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s \
  CMD node -e "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/src/cli.js"]
