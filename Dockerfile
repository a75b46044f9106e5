# pushpic image: built with the dev dependencies, run on the production ones and dist/ only.
#   docker build -t pushpic .
#   docker run -d --name pushpic -p 3000:3000 -v pushpic-data:/app/data -v pushpic-uploads:/app/uploads pushpic
#   docker stop -t 30 pushpic   (the default 10 s can cut a shutdown short: see the README's Deployment)
# 26 or 22, the Node lines pushpic supports (on Node 24.19 and later better-sqlite3 12 aborts the process).
ARG NODE_VERSION=26

# Compilers for better-sqlite3, in case no prebuilt binary matches this Node and platform.
FROM node:${NODE_VERSION}-slim AS toolchain
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./

FROM toolchain AS build
RUN npm ci
COPY tsconfig.json tsconfig.build.json knexfile.ts ./
COPY src src
COPY migrations migrations
COPY scripts scripts
RUN npm run build

FROM toolchain AS production-dependencies
RUN npm ci --omit=dev && npm cache clean --force

FROM node:${NODE_VERSION}-slim
ENV NODE_ENV=production \
    SQLITE_FILE=/app/data/pushpic.sqlite \
    UPLOAD_DIR=/app/uploads
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=production-dependencies /app/node_modules node_modules
COPY --from=build /app/dist dist
# The image's user (uid 1000) owns the folders it writes; volumes mounted there start with this owner.
RUN mkdir -p data uploads && chown node:node data uploads
USER node
VOLUME ["/app/data", "/app/uploads"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
  CMD ["node", "dist/scripts/healthcheck.js"]
STOPSIGNAL SIGTERM
# node itself as PID 1 (no npm, no shell): it receives SIGTERM and stops cleanly.
CMD ["node", "dist/src/main.js"]
