#!/usr/bin/env bash
# Make sure the Mosquitto and Redis binaries exist; install them with apt-get when
# missing and running as root, otherwise say exactly what to install.
set -euo pipefail
missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the packaged services on their standard ports; nevoa starts its own
  # on free ports, so it needs nothing from them.
  exit 0
fi
echo "nevoa needs ${missing[*]}. Install with:  sudo apt-get install ${missing[*]}" >&2
exit 1
