# syntax=docker/dockerfile:1
# The identity service image: built once, run as many replicas as wanted (docker-compose.yml runs two).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    DATA_DIR=/var/lib/identity
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The shipped email and page templates (TEMPLATES_DIR overrides them file by file).
COPY templates ./templates
# The data directory holds the mail files (without SMTP_URL) and, on the embedded store, the database; the
# service runs as the image's unprivileged `node` user, so that user owns it.
RUN mkdir -p /var/lib/identity && chown node:node /var/lib/identity
USER node
EXPOSE 3000
# No curl in the slim image: Node 20's fetch asks the readiness endpoint.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/main.js"]
