#!/usr/bin/env bash
# Make a Docker engine and a local base image ready for the `docker` trainer's tests.
#
# Idempotent: every step checks first and does nothing when its result already exists, so
# .ci/run may call it on every run. Steps:
#   1. install Debian's docker.io and debootstrap when missing;
#   2. start dockerd (no iptables, no bridge: this machine allows neither) unless one answers;
#   3. build the base image once: no public registry is reachable, so a Debian bookworm root
#      comes from debootstrap, gets a venv with the CPU torch wheel that lies on this disk
#      (a CUDA build from PyPI would be gigabytes), and is `docker import`ed.
# Environment:
#   DELTA_TRAIN_DOCKER_BASE_IMAGE  tag of the base image (default delta-base:bookworm)
#   DELTA_DEBIAN_MIRROR            Debian mirror for debootstrap (default deb.debian.org)
#   DELTA_DOCKERD_LOG              where dockerd writes (default /var/log/delta-dockerd.log)
set -euo pipefail

BASE_IMAGE="${DELTA_TRAIN_DOCKER_BASE_IMAGE:-delta-base:bookworm}"
MIRROR="${DELTA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKERD_LOG="${DELTA_DOCKERD_LOG:-/var/log/delta-dockerd.log}"
TORCH_SPEC="torch==2.13.0"

say() { printf 'docker-setup: %s\n' "$*" >&2; }
elapsed() { printf '%ss' "$((SECONDS - ${1}))"; }

if [ "$(id -u)" != 0 ]; then
    say "must run as root (installs packages, starts dockerd, runs debootstrap)"
    exit 1
fi

# 1. packages
t=$SECONDS
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
    say "installing docker.io and debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        docker.io debootstrap >/dev/null
    say "packages installed in $(elapsed "$t")"
fi
if ! command -v docker >/dev/null; then
    say "no docker client on PATH after installing docker.io"
    exit 1
fi

# 2. engine
t=$SECONDS
if ! docker info >/dev/null 2>&1; then
    say "starting dockerd (log: $DOCKERD_LOG)"
    # setsid + nohup: the engine must outlive this script and the CI step that ran it.
    setsid nohup dockerd --iptables=false --bridge=none >"$DOCKERD_LOG" 2>&1 </dev/null &
    for _ in $(seq 1 120); do
        docker info >/dev/null 2>&1 && break
        sleep 0.5
    done
    if ! docker info >/dev/null 2>&1; then
        say "dockerd did not answer within 60s; last lines of $DOCKERD_LOG:"
        tail -n 20 "$DOCKERD_LOG" >&2 || true
        exit 1
    fi
    say "engine up in $(elapsed "$t")"
fi

# 3. base image
if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    say "base image $BASE_IMAGE present"
    exit 0
fi
t=$SECONDS
# The root is ~1 GB of small files written once, read once by tar and deleted: tmpfs makes
# that several times faster than disk when there is memory to spare.
tmp_parent=/tmp
if [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $4}')" -gt 4000000 ] 2>/dev/null; then
    tmp_parent=/dev/shm
fi
work="$(mktemp -d "$tmp_parent/delta-base.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/root"

say "fetching $TORCH_SPEC and its dependencies (pip's own config finds the CPU wheel on disk)"
python3 -m pip download --quiet --only-binary=:all: -d "$work/wheels" "$TORCH_SPEC" 2>&1 |
    grep -v "is ignored: it is" >&2 || true
if ! ls "$work"/wheels/torch-*+cpu-*.whl >/dev/null 2>&1; then
    say "pip found no CPU torch wheel for $TORCH_SPEC; refusing to bake a CUDA build into the image"
    exit 1
fi
say "wheels ready after $(elapsed "$t")"

say "debootstrap bookworm (minbase + python3, python3-venv) into $root"
debootstrap --variant=minbase --include=python3,python3-venv \
    bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2
    exit 1
}
say "debootstrap done after $(elapsed "$t")"

say "installing torch into /opt/venv inside the root (no network: wheels only)"
mkdir -p "$root/tmp/wheels"
cp "$work"/wheels/*.whl "$root/tmp/wheels/"
# env -i: this host's pip settings (find-links, indexes on its disk) mean nothing in there.
in_root() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 chroot "$root" "$@"; }
in_root /usr/bin/python3 -m venv /opt/venv
in_root /opt/venv/bin/pip install --quiet --no-cache-dir --no-index \
    --disable-pip-version-check --find-links /tmp/wheels "$TORCH_SPEC"
rm -rf "$root/tmp/wheels" "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

say "torch installed after $(elapsed "$t"); importing as $BASE_IMAGE"
tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --message "Debian bookworm minbase + python3 venv + CPU torch, built by .ci/docker-setup.sh" \
    - "$BASE_IMAGE" >/dev/null
say "base image $BASE_IMAGE built in $(elapsed "$t")"
