#!/usr/bin/env bash
# Build every image the compose stack needs without any container registry.
#
#   1. nevoa/base:bookworm  - a Debian bookworm root filesystem made by debootstrap from
#      the Debian mirror apt already uses on this machine, carrying python3, python3-venv,
#      mosquitto, mosquitto-clients, redis-server and tini; imported with `docker import`.
#   2. nevoa/app:latest     - the Python services (nevoa-meter, nevoa-fog, nevoa-cloud),
#      built FROM the base with compose/Dockerfile. Dependency wheels are fetched on the
#      host with pip (PyPI is reachable here, the build containers need no network) and
#      installed in their own layer, so a code change rebuilds only the last layer.
#
# Usage: compose/build-base-images.sh [--base-only | --app-only] [--rebuild-base]
# Environment: NEVOA_DEBIAN_MIRROR, NEVOA_BUILD_CACHE (rootfs tarball cache),
#              NEVOA_BASE_IMAGE, NEVOA_APP_IMAGE, PYTHON (host interpreter with pip).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
base_image="${NEVOA_BASE_IMAGE:-nevoa/base:bookworm}"
app_image="${NEVOA_APP_IMAGE:-nevoa/app:latest}"
cache="${NEVOA_BUILD_CACHE:-/var/tmp/nevoa-build}"
python="${PYTHON:-$repo/.venv/bin/python}"
[ -x "$python" ] || python="python3"
packages="python3,python3-venv,mosquitto,mosquitto-clients,redis-server,tini"

do_base=1 do_app=1 rebuild_base=0
for arg in "$@"; do
    case "$arg" in
        --base-only) do_app=0 ;;
        --app-only) do_base=0 ;;
        --rebuild-base) rebuild_base=1 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

pip_quiet() {
    # pip without progress chatter or warnings about this machine's unused local indexes.
    "$@" --quiet --disable-pip-version-check 2>&1 \
        | { grep -v 'is ignored: it is neither a file nor a directory' || true; } >&2
}

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

debian_mirror() {
    # The mirror apt uses here (deb822 or one-line format); deb.debian.org otherwise.
    if [ -n "${NEVOA_DEBIAN_MIRROR:-}" ]; then echo "$NEVOA_DEBIAN_MIRROR"; return; fi
    local uri
    uri="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources \
        | awk '{print $2}' | grep -vE 'security|updates' | grep -E '/debian/?$' | head -n1 || true)"
    if [ -z "$uri" ]; then
        uri="$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
            | awk '{print $2}' | grep -E '/debian/?$' | head -n1 || true)"
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

require_engine() {
    if ! docker info >/dev/null 2>&1; then
        echo "no Docker engine reachable; start one (see compose/ensure-docker.sh)" >&2
        exit 1
    fi
}

build_base() {
    if [ "$rebuild_base" = 0 ] && docker image inspect "$base_image" >/dev/null 2>&1; then
        log "$base_image already present (use --rebuild-base to rebuild)"
        return
    fi
    command -v debootstrap >/dev/null || {
        log "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
    }
    mkdir -p "$cache"
    local tarball="$cache/bookworm-rootfs.tar"
    if [ "$rebuild_base" = 1 ] || [ ! -s "$tarball" ]; then
        local mirror rootfs
        mirror="$(debian_mirror)"
        rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
        log "debootstrap bookworm from $mirror into $rootfs (a few minutes)"
        debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" \
            >"$cache/debootstrap.log" 2>&1 || {
            tail -n 30 "$cache/debootstrap.log" >&2
            exit 1
        }
        # Inside the image apt should talk to the same mirror (and security updates).
        printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$mirror" "$mirror" \
            >"$rootfs/etc/apt/sources.list"
        rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
            "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/doc/* \
            "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log
        # Services are started by compose, not by init scripts.
        tar --numeric-owner -C "$rootfs" -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        rm -rf "$rootfs"
    fi
    log "docker import $tarball as $base_image"
    docker import \
        --change 'ENV LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' \
        --message "debootstrap bookworm minbase + $packages" \
        "$tarball" "$base_image" >/dev/null
    docker run --rm "$base_image" sh -c \
        'python3 --version && mosquitto -h | head -n1 && redis-server --version' >&2
}

build_app() {
    [ -f "$repo/pyproject.toml" ] || { echo "no $repo/pyproject.toml" >&2; exit 1; }
    local ctx="$here/.build/context" pyver
    pyver="$(docker run --rm "$base_image" python3 -c \
        'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    log "preparing build context in $ctx (image Python $pyver)"
    rm -rf "$ctx"
    mkdir -p "$ctx/wheels" "$ctx/app"
    # Runtime dependencies exactly as pyproject.toml declares them, as binary wheels for
    # the image's interpreter and glibc (bookworm: 2.36).
    "$python" - "$repo/pyproject.toml" >"$ctx/wheels/requirements.in" <<'EOF'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"].get("dependencies", [])))
EOF
    local host_pyver
    host_pyver="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    if [ "$host_pyver" != "$pyver" ]; then
        echo "host Python $host_pyver differs from the image's $pyver: set PYTHON to a" \
             "python$pyver with pip so the downloaded wheels fit the image" >&2
        exit 1
    fi
    pip_quiet "$python" -m pip download --only-binary=:all: -d "$ctx/wheels" \
        -r "$ctx/wheels/requirements.in"
    # Environment markers were evaluated for the host interpreter (e.g. redis needs
    # async-timeout below Python 3.11.3 only): let the image's pip, offline, name what is
    # still missing for it, and fetch that on the host until nothing is.
    local missing round
    for round in $(seq 1 20); do
        missing="$(docker run --rm --network none -v "$ctx/wheels:/w:ro" "$base_image" sh -c \
            'python3 -m venv /tmp/v && /tmp/v/bin/pip install --disable-pip-version-check \
             --no-index --find-links /w --dry-run --quiet -r /w/requirements.in 2>&1' \
            | sed -n 's/^ERROR: No matching distribution found for \([^;]*\).*/\1/p' || true)"
        [ -z "$missing" ] && break
        log "fetching for the image's Python: $missing"
        pip_quiet "$python" -m pip download --only-binary=:all: --no-deps -d "$ctx/wheels" "$missing"
        [ "$round" = 20 ] && { echo "could not complete the wheel set" >&2; exit 1; }
    done
    # Pin what was downloaded so the dependency layer only changes with the wheel set.
    (cd "$ctx/wheels" && ls -1 ./*.whl | sort | sed 's|^\./||') >"$ctx/wheels/requirements.txt"
    pip_quiet "$python" -m pip wheel --no-deps -w "$ctx/app" "$repo"
    cp "$here/Dockerfile" "$here/meter-replica.py" "$ctx/"
    log "docker build $app_image"
    # The classic builder: no buildx plugin is needed, and the context is already minimal.
    if ! DOCKER_BUILDKIT=0 docker build --force-rm --build-arg "BASE_IMAGE=$base_image" \
            -t "$app_image" "$ctx" >"$here/.build/docker-build.log" 2>&1; then
        tail -n 40 "$here/.build/docker-build.log" >&2
        exit 1
    fi
    docker run --rm "$app_image" sh -c 'nevoa-fog --help >/dev/null && echo app image ok' >&2
}

require_engine
[ "$do_base" = 1 ] && build_base
if [ "$do_app" = 1 ]; then
    docker image inspect "$base_image" >/dev/null 2>&1 || build_base
    build_app
fi
log "done: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^nevoa/' | tr '\n' ' ')"
