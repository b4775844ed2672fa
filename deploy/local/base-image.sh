#!/usr/bin/env bash
# The base images for a host that cannot pull from a registry, built once from Debian's own
# mirror and kept (a second run does nothing):
#   local/debian:bookworm        debootstrap --variant=minbase, imported with `docker import`
#   local/python:3.11-bookworm   Debian's python3 (3.11) on it: what python:3.11-slim-bookworm
#                                gives the Dockerfiles (python.Dockerfile)
# The python image trusts the host's CA bundle, so that pip inside image builds reaches PyPI
# where the host's HTTPS goes through a proxy with its own CA.
#   deploy/local/base-image.sh            # as root (debootstrap)
set -euo pipefail
cd "$(dirname "$0")"
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
HOST_CA=${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

if ! docker image inspect local/debian:bookworm >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { echo "no debootstrap: apt-get install debootstrap" >&2; exit 1; }
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  nice -n 10 debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR"
  # The downloaded packages and lists would only make every image 80 MB larger.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import - local/debian:bookworm
fi

if ! docker image inspect local/python:3.11-bookworm >/dev/null 2>&1; then
  context=$(mktemp -d)
  trap 'rm -rf "$context"' EXIT
  cp python.Dockerfile "$context/Dockerfile"
  cp "$HOST_CA" "$context/host-ca-certificates.crt"
  nice -n 10 docker build --network host -t local/python:3.11-bookworm "$context"
fi
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^local/'
