# What python:3.11-slim-bookworm gives the service images, from Debian's own packages, for hosts
# that cannot pull from a registry: Debian bookworm's python3 is 3.11. base-image.sh builds it
# on local/debian:bookworm with the host's CA bundle beside this file.
ARG DEBIAN_IMAGE=local/debian:bookworm
FROM ${DEBIAN_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8
# python3-venv for `python -m venv` (the images install into /opt/venv), `python` as the
# Dockerfiles and healthchecks call it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python-is-python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/*
# pip in image builds trusts what the host trusts (a TLS proxy's CA included).
COPY host-ca-certificates.crt /etc/ssl/certs/host-ca-certificates.crt
ENV PIP_CERT=/etc/ssl/certs/host-ca-certificates.crt
CMD ["python3"]
