# syntax=docker/dockerfile:1
# CPU image by default. node-llama-cpp ships prebuilt CUDA and Vulkan binaries as npm packages, so a
# GPU host only needs the NVIDIA container runtime: docker run --gpus all ... -e GATEWAY_GPU=cuda
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
# Models live outside the image: mount a folder of .gguf files at /models.
RUN mkdir -p /app/models && ln -s /app/models /models && chown -R node:node /app/models
VOLUME ["/app/models"]
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
  CMD node -e "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/src/cli.js"]
