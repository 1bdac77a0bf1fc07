#!/usr/bin/env bash
# Make sure a Docker engine answers: if none does, install Debian's docker.io when it is
# missing (root only) and start dockerd in the background (systemd when it runs, by hand
# otherwise), then wait until it answers. Idempotent; prints where the engine logs.
set -euo pipefail

if docker info >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "no Docker engine answers and starting one needs root: run 'sudo $0'," \
         "or 'sudo systemctl start docker' and add yourself to the docker group" >&2
    exit 1
fi
if ! command -v dockerd >/dev/null; then
    echo "==> installing docker.io from the Debian archive" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null
fi
log="${NEVOA_DOCKERD_LOG:-/var/log/dockerd.log}"
if [ -d /run/systemd/system ] && systemctl start docker 2>/dev/null; then
    echo "==> started docker.service" >&2
elif ! pgrep -x dockerd >/dev/null; then
    echo "==> starting dockerd in the background (log: $log)" >&2
    nohup dockerd >"$log" 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && exit 0
    sleep 1
done
echo "dockerd did not answer within 60 s; see $log" >&2
tail -n 20 "$log" >&2 || true
exit 1
