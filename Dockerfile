# syntax=docker/dockerfile:1
#
# tollgate container image.
#
#   docker build -t tollgate .
#   docker run -p 8787:8787 -e OPENAI_API_KEY=sk-... \
#     -v "$PWD/proxy.config.json:/app/proxy.config.json:ro" -v tollgate-data:/app/data tollgate
#
# The bundled proxy.config.json contains a demo key whose plaintext is public: mount your own config
# over /app/proxy.config.json for real use. Its relative ledger.path (./data/ledger.db) resolves
# against the config's folder, i.e. /app/data/ledger.db on the volume below.

# ---- build: compile the native module and the TypeScript ---------------------------------------
FROM node:20-bookworm-slim AS build

# Toolchain for node-gyp: better-sqlite3 is compiled from source below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, so this layer is cached until the manifest or lockfile changes.
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own `prepare` (the TypeScript build) needs src/, copied below.
# better-sqlite3's install script is then run alone: prebuild-install skips its prebuilt-binary
# download when npm_config_build_from_source names the package, and node-gyp builds it against
# this image's Node and glibc instead, the same ones the runtime stage uses.
ENV npm_config_build_from_source=better-sqlite3
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3

COPY tsconfig.json ./
COPY src ./src
# `tsc -p tsconfig.json` → dist/
RUN npm run build

# Drop devDependencies (typescript, tsx, vitest, drizzle-kit...) before node_modules is copied on.
# Then keep only better-sqlite3's compiled addon: its object files and bundled SQLite sources
# (~30 MB) are not needed at run time; it loads build/Release/better_sqlite3.node.
RUN npm prune --omit=dev \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv /tmp/better_sqlite3.node build/Release/

# ---- runtime -----------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime

ENV NODE_ENV=production
WORKDIR /app

# Application files stay owned by root, so the `node` user can read but not modify them.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# migrations/ must sit at /app/migrations: the code finds it by walking up from dist/ledger/sqlite/db.js
# (migrations/sqlite/meta/_journal.json).
COPY migrations ./migrations
COPY public ./public
COPY package.json proxy.config.json ./

# The ledger (SQLite file plus its -wal and -shm files) lives here; the directory must be writable
# by `node`. Created and chowned before VOLUME so a new named volume starts with this ownership.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]

# The `node` user (uid 1000) ships with the official Node images.
USER node

EXPOSE 8787

# Slim images have no curl or wget: Node 20's global fetch does the probe. Port 8787 matches
# listen.port in the config; change it here too if you change it there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8787/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node runs as PID 1; tollgate handles SIGTERM/SIGINT itself (in-flight requests settle, the ledger
# closes), so `docker stop` shuts it down cleanly. --host 0.0.0.0 overrides the config's 127.0.0.1,
# which would be unreachable from outside the container.
CMD ["node", "dist/cli.js", "serve", "--config", "/app/proxy.config.json", "--host", "0.0.0.0"]
