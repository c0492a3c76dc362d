#!/usr/bin/env bash
# Builds the container image (packaging/Containerfile) with podman and tries it as a plant
# admin would: run it with a named volume for the data, the first sign-in in its log,
# /healthz over HTTPS through the published port, the process not root, a backup while it
# runs copied out, a clean stop on SIGTERM, a restart that keeps the data (no second first
# sign-in), then remove container, volume and image.
#
#   packaging/smoke-container.sh              # from source when the Rust image can be pulled
#   PREBUILT=1 packaging/smoke-container.sh   # the `prebuilt` stage from `cargo build --release`
#
# Needs root and podman (apt-get install podman runc; installed when missing). Where the
# registry cannot be reached, the Debian base image is made from a debootstrap of bookworm
# (minbase) and the binary is built outside the image (PREBUILT). PODMAN_OPTS adds global
# podman options; on hosts without a systemd cgroup hierarchy (containers in containers),
# `--runtime runc --cgroup-manager cgroupfs` is used.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "run as root" >&2; exit 1; }
ok() { echo "  ok: $*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

command -v podman >/dev/null && command -v runc >/dev/null \
  || apt-get install -y -qq --no-install-recommends podman runc uidmap >/dev/null
opts=${PODMAN_OPTS:-}
if [ -z "$opts" ] && [ ! -d /sys/fs/cgroup/system.slice ]; then
  opts="--runtime runc --cgroup-manager cgroupfs"
fi
# shellcheck disable=SC2086
P() { podman $opts "$@"; }
# the process limits a container may not raise above the host's
limits=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit "nproc=4096:4096")

base=docker.io/library/debian:bookworm-slim
rust=docker.io/library/rust:1.95-bookworm
if ! P image exists "$base" && ! P pull -q "$base" >/dev/null 2>&1; then
  echo "== $base cannot be pulled: made from a debootstrap of bookworm (minbase)"
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
  root=target/container-base/root
  if [ ! -x "$root/usr/bin/dpkg" ]; then
    rm -rf "$root" && mkdir -p "$(dirname "$root")"
    debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian \
      > target/container-base/debootstrap.log
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  fi
  tar -C "$root" -c . | P import -q - "$base" >/dev/null
fi
if [ -z "${PREBUILT:-}" ] && ! P image exists "$rust" && ! P pull -q "$rust" >/dev/null 2>&1; then
  echo "== $rust cannot be pulled: the binary is built here (PREBUILT)"
  PREBUILT=1
fi

image=localhost/nplusx:smoke
start=$(date +%s)
if [ -n "${PREBUILT:-}" ]; then
  echo "== podman build --target prebuilt"
  cargo build --release -p nplusx
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  mkdir -p "$ctx/packaging"
  strip -o "$ctx/nplusx" target/release/nplusx
  cp packaging/nplusx.toml "$ctx/packaging/"
  P build -q "${limits[@]}" -f packaging/Containerfile --target prebuilt -t "$image" "$ctx" >/dev/null
else
  echo "== podman build (from source)"
  P build -q "${limits[@]}" -f packaging/Containerfile -t "$image" . >/dev/null
fi
ok "built $image in $(( $(date +%s) - start )) s, $(P image inspect "$image" --format '{{.Size}}' | numfmt --to=iec)"
[ "$(P image inspect "$image" --format '{{.Config.User}}')" = nplusx ] || fail "the image runs as root"
P image inspect "$image" --format '{{json .Config.Volumes}}' | grep -q /var/lib/nplusx || fail "no data volume"

tmpd=$(mktemp -d)
name=nplusx-smoke
vol=nplusx-smoke-data
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
P rm -f "$name" >/dev/null 2>&1 || true
P volume rm -f "$vol" >/dev/null 2>&1 || true
cleanup() {
  P rm -f "$name" >/dev/null 2>&1 || true
  P volume rm -f "$vol" >/dev/null 2>&1 || true
  P rmi -f "$image" >/dev/null 2>&1 || true
  [ -n "${ctx:-}" ] && rm -rf "$ctx"
  rm -rf "$tmpd"
}
trap cleanup EXIT

echo "== run with a volume, port 127.0.0.1:$port → 8443"
P run -d --name "$name" "${limits[@]}" -p "127.0.0.1:$port:8443" -v "$vol:/var/lib/nplusx" "$image" >/dev/null
healthy() {
  for _ in $(seq 1 100); do
    curl -fsSk "https://127.0.0.1:$port/healthz" 2>/dev/null | grep -q '"status":"ok"' && return 0
    sleep 0.2
  done
  P logs "$name"; fail "/healthz did not answer"
}
healthy
ok "/healthz: $(curl -fsSk "https://127.0.0.1:$port/healthz")"
# the sign-in follows the banner, which follows listening
for _ in $(seq 1 50); do P logs "$name" 2>&1 | grep -q "Password: " && break; sleep 0.2; done
P logs "$name" 2>&1 | grep -q "Password: " || fail "no first sign-in in the log"
ok "first sign-in: $(P logs "$name" 2>&1 | grep -o 'Password: .*' | head -1 | cut -c1-16)…"
[ "$(P exec "$name" id -un)" = nplusx ] || fail "the process is not user nplusx"
ok "runs as $(P exec "$name" id)"
P exec "$name" sh -c 'test -w /var/lib/nplusx/nplusx.redb && ! test -w /etc/nplusx/nplusx.toml' \
  || fail "data should be writable, the configuration not"
ok "data dir writable, configuration read-only for the service"
P exec "$name" nplusx backup /var/lib/nplusx/backup.nxb --config /etc/nplusx/nplusx.toml >/dev/null \
  || fail "a backup while it runs"
P cp "$name:/var/lib/nplusx/backup.nxb" "$tmpd/backup.nxb"
[ -s "$tmpd/backup.nxb" ] || fail "the backup did not come out"
ok "backup while running, copied out: $(du -h "$tmpd/backup.nxb" | cut -f1)"

P stop -t 30 "$name" >/dev/null
[ "$(P inspect "$name" --format '{{.State.ExitCode}}')" = 0 ] || { P logs "$name"; fail "exit code on SIGTERM"; }
P logs "$name" 2>&1 | grep -q "store closed cleanly" || fail "no clean stop"
ok "SIGTERM: exit 0, store closed cleanly"

P start "$name" >/dev/null
healthy
# its banner printed (a fresh data dir would print a sign-in right after it)
for _ in $(seq 1 50); do [ "$(P logs "$name" 2>&1 | grep -c 'nplusx listening on')" = 2 ] && break; sleep 0.2; done
sleep 1
[ "$(P logs "$name" 2>&1 | grep -c 'Password: ')" = 1 ] || fail "a restart printed a new first sign-in: the data was not kept"
ok "restarted on the same volume: data kept, no new sign-in"
P stop -t 30 "$name" >/dev/null
echo "container smoke test passed"
