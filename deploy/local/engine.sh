#!/usr/bin/env bash
# A Docker engine for this host: nothing happens when one answers already. Otherwise, as root,
# Debian's dockerd starts in the background with the vfs storage driver (no overlay module
# needed), no bridge and no iptables rules: every container of compose.local.yaml uses the
# host's network, so no address outside the host's loopback is ever handed out.
#   sudo deploy/local/engine.sh          # log: var/dockerd.log
set -euo pipefail
cd "$(dirname "$0")/../.."
if docker info >/dev/null 2>&1; then
  echo "docker engine: answering"
  exit 0
fi
command -v dockerd >/dev/null || { echo "no dockerd: apt-get install docker.io docker-compose" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "starting dockerd needs root" >&2; exit 1; }
mkdir -p var
setsid dockerd --storage-driver=vfs --bridge=none --iptables=false >var/dockerd.log 2>&1 </dev/null &
for _ in $(seq 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker engine: started (pid $!, log var/dockerd.log)"
    exit 0
  fi
  sleep 1
done
echo "dockerd did not answer within 60 s; see var/dockerd.log" >&2
exit 1
