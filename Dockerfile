# One image for every container of the lab: the proxy and each stand-in Lync server run the same
# program with a different command (see docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /opt/lyncproxy
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY config ./config
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
ENTRYPOINT ["node", "dist/cli/main.js"]
