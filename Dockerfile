# One image for every process (api, worker, mailstore-sim, migrate); the command picks the process. No database
# credentials in the image: the api and the worker get DATABASE_URL (the runtime role) and only `migrate` (and the
# API-key commands) get OWNER_DATABASE_URL as well (docs/security.md, "Database roles"; docker-compose.yml).
FROM node:20.19-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20.19-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The API's status page at / (static files, read from the source layout: see apps/api/src/status-page).
COPY --from=build /app/apps/api/static ./apps/api/static
COPY package.json ./
USER node
CMD ["node", "dist/apps/api/src/main.js"]
