# ZHEDEL ONLINE — the service image, on Node.js 24 (LTS).
# Build:  docker build -t zhedel-online .
# Run:    docker run -d --name zhedel -p 8080:8080 -v zhedel-data:/data \
#           -e ZHEDEL_SECRET=... -e ZHEDEL_SMPP_URL=... -e ZHEDEL_ARI_URL=... zhedel-online
# Alarm panels over SIA DC-09: add  -e ZHEDEL_DC09_PORT=5000 -p 5000:5000/tcp -p 5000:5000/udp
# Test suite on the image's Node.js version:  docker build --target test .

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: all dependencies, the native SQLite module compiled here, dist/ compiled by
# the package's prepare script during npm ci, then development dependencies removed
FROM ${NODE_IMAGE} AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/build.mjs
COPY types ./types
COPY src ./src
COPY prompts/manifest.json ./prompts/manifest.json
RUN npm ci --no-audit --no-fund \
 && test -f dist/cli.js \
 && npm prune --omit=dev

# ---- test: the whole suite on this image's Node.js (needs the test sources; not shipped)
FROM ${NODE_IMAGE} AS test
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ chromium sqlite3 postgresql \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN npm ci --no-audit --no-fund && npm test

# ---- runtime: production dependencies and the compiled service, as an unprivileged user;
# pg_dump and pg_restore (Debian's PostgreSQL 15 client) for backups when ZHEDEL_DB is PostgreSQL
# (a newer server needs the client of its own major version here)
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    ZHEDEL_DB=/data/zhedel.db \
    ZHEDEL_HTTP_HOST=0.0.0.0 \
    ZHEDEL_HTTP_PORT=8080
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
COPY --chown=node:node bin/zhedel.js ./bin/zhedel.js
COPY --chown=node:node prompts ./prompts
RUN mkdir -p /data && chown node:node /data && chmod 0700 /data
USER node
VOLUME ["/data"]
# HTTP; the DC-09 receiver listens only when ZHEDEL_DC09_PORT is set (TCP and UDP, publish both)
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.ZHEDEL_HTTP_PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "bin/zhedel.js", "serve"]
