# ZHEDEL ONLINE — the service image.
# Build:  docker build -t zhedel-online .
# Run:    docker run -d --name zhedel -p 8080:8080 -v zhedel-data:/data \
#           -e ZHEDEL_SECRET=... -e ZHEDEL_SMPP_URL=... -e ZHEDEL_ARI_URL=... zhedel-online

# ---- build: all dependencies, the native SQLite module compiled here, typecheck
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY types ./types
COPY prompts/manifest.json ./prompts/manifest.json
RUN npx tsc --noEmit -p tsconfig.build.json \
 && npm prune --omit=dev

# ---- runtime: production dependencies only, as an unprivileged user
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    ZHEDEL_DB=/data/zhedel.db \
    ZHEDEL_HTTP_HOST=0.0.0.0 \
    ZHEDEL_HTTP_PORT=8080
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json ./
COPY --chown=node:node bin ./bin
COPY --chown=node:node src ./src
COPY --chown=node:node prompts ./prompts
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.ZHEDEL_HTTP_PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "bin/zhedel.js", "serve"]
