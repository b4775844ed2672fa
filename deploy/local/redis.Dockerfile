# Debian's redis-server (7.0 in bookworm) in place of the redis:7.2-alpine image, for hosts that
# cannot pull from a registry (compose.local.yaml). Like the official image it keeps its data in
# /data (the redis-data volume) and runs as the unprivileged `redis` user.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data \
    && chown redis:redis /data
USER redis
WORKDIR /data
EXPOSE 6379
CMD ["redis-server"]
