# The compose demo's instrumented service (docker/demo/shop.js) with the
# OpenTelemetry npm packages pinned by tests/e2e/otel-node/package-lock.json.
# Built from the repository's top directory (docker/compose.yaml).
FROM node:20-bookworm-slim
WORKDIR /app
COPY tests/e2e/otel-node/package.json tests/e2e/otel-node/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error
COPY docker/demo/shop.js ./
USER node
EXPOSE 3000
CMD ["node", "shop.js"]
