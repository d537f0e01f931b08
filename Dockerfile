# syntax=docker/dockerfile:1
# Homeskillet, self-hosted: the gateway in workerd on one machine (README, "Self-hosting").
# One container, one replica: every Durable Object lives once, in SQLite under /data (a volume).
# Scaling out is what the Cloudflare deployment is for (`npm run deploy -- --env production`).
#
#   docker build -t homeskillet .
#   docker run -p 8787:8787 -v homeskillet-data:/data \
#     -e HOSTEDAI_BASE_URL=https://… -e HOSTEDAI_API_KEY=… -e HOMESKILLET_OPERATOR_KEY=… homeskillet
#
# The command is `npm run selfhost`'s, `node scripts/selfhost.mjs`. Built ahead in the first stage,
# the image holds no sources and no build tools, so the script serves what the image holds.

# ---- build: the same `node scripts/selfhost.mjs --build-only` a checkout runs --------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The bundle, its description and the static assets in .build/selfhost/; then workerd's binary
# (from the npm package wrangler depends on, for this platform) beside them.
RUN node scripts/selfhost.mjs --build-only \
 && cp "$(node -p 'require("workerd").default')" .build/selfhost/workerd \
 && .build/selfhost/workerd --version

# ---- run --------------------------------------------------------------------------------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8787 \
    HOMESKILLET_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/scripts/selfhost.mjs ./scripts/selfhost.mjs
COPY --from=build /app/scripts/selfhost-config.mjs ./scripts/selfhost-config.mjs
COPY --from=build /app/scripts/selfhost-router.js ./scripts/selfhost-router.js
COPY --from=build /app/.build/selfhost ./.build/selfhost
# The node image's unprivileged user owns the data and nothing else.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8787
# The slim image has no curl: Node's fetch asks /healthz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 8787}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "scripts/selfhost.mjs"]
