#!/usr/bin/env bash
# A Docker engine for this host: nothing happens when one answers already. Otherwise, as root,
# Debian's dockerd starts in the background with no bridge and no iptables rules (every
# container of compose.local.yaml uses the host's network, so no address outside the host's
# loopback is ever handed out), on the overlay2 storage driver where the kernel mounts overlayfs
# and on vfs otherwise. vfs copies every layer whole: on a loaded 2-core host one metadata step
# of a 700 MB image took about 5 minutes, which makes the torch images take hours to build.
#   sudo deploy/local/engine.sh          # log: var/dockerd.log; STORAGE_DRIVER=vfs to force it
set -euo pipefail
cd "$(dirname "$0")/../.."
if docker info >/dev/null 2>&1; then
  echo "docker engine: answering"
  exit 0
fi
command -v dockerd >/dev/null || { echo "no dockerd: apt-get install docker.io docker-compose" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "starting dockerd needs root" >&2; exit 1; }
mkdir -p var
if [ -z "${STORAGE_DRIVER:-}" ]; then
  probe=$(mktemp -d)
  mkdir -p "$probe"/lower "$probe"/upper "$probe"/work "$probe"/merged
  if mount -t overlay overlay -o "lowerdir=$probe/lower,upperdir=$probe/upper,workdir=$probe/work" \
      "$probe/merged" 2>/dev/null; then
    umount "$probe/merged"
    STORAGE_DRIVER=overlay2
  else
    STORAGE_DRIVER=vfs
  fi
  rm -rf "$probe"
fi
setsid dockerd --storage-driver="$STORAGE_DRIVER" --bridge=none --iptables=false \
  >var/dockerd.log 2>&1 </dev/null &
for _ in $(seq 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker engine: started ($STORAGE_DRIVER, pid $!, log var/dockerd.log)"
    exit 0
  fi
  sleep 1
done
echo "dockerd did not answer within 60 s; see var/dockerd.log" >&2
exit 1
