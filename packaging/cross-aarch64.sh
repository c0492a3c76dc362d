#!/usr/bin/env bash
# Builds nplusx for 64-bit ARM boxes (aarch64-unknown-linux-gnu) with Debian's cross toolchain
# and smoke-tests the binary under qemu-user on this x86_64 machine: the demo plant starts,
# /healthz answers, the bundled plugins (WebAssembly built on x86_64) compile and run on
# aarch64, a clean stop; then the same data dir moves to an x86_64 binary and back — each
# architecture compiles the plugins for itself and keeps the other's compiled code apart.
# Then packs the arm64 .deb (cargo-deb) from the same binary (installing it needs an arm64
# system: not tried here). Prints the figures: binary size, time to listen, time until the
# plugins run, memory.
#
#   packaging/cross-aarch64.sh             # build + smoke test
#   NO_BUILD=1 packaging/cross-aarch64.sh  # reuse the built binary
#
# Needs Debian's gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user (installed with
# apt-get when missing, as root) and rustup. Under emulation everything is 5-20x slower than
# on a real ARM box: the times are upper bounds, not the box's.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=aarch64-unknown-linux-gnu
BIN=target/$TARGET/release/nplusx
ok() { echo "  ok: $*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
rustup target list --installed | grep -qx "$TARGET" || rustup target add "$TARGET"

if [ -z "${NO_BUILD:-}" ]; then
  echo "== cargo build --release --target $TARGET"
  start=$(date +%s)
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
  AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
    cargo build --release --target "$TARGET" -p nplusx
  echo "  built in $(( $(date +%s) - start )) s"
fi
[ -x "$BIN" ] || fail "$BIN missing"
file "$BIN" | grep -q "ARM aarch64" || fail "$BIN is not an aarch64 executable: $(file "$BIN")"
ok "$(file -b "$BIN" | cut -d, -f1-2)"
aarch64-linux-gnu-strip -o "${BIN}.stripped" "$BIN"
echo "  binary: $(du -h "$BIN" | cut -f1), stripped (as packages ship it) $(du -h "$BIN.stripped" | cut -f1)"

tmp=$(mktemp -d)
box=""
cleanup() { [ -n "$box" ] && kill "$box" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
TOKEN=cross-smoke-token-0123456789abcdef

# seconds since $1 (date +%s%N), with a tenth
secs() { local ms=$(( ($(date +%s%N) - $1) / 1000000 )); printf "%d.%d" $((ms / 1000)) $((ms % 1000 / 100)); }

# starts "$@" (an nplusx command line) on $tmp/data, waits until it listens; sets box, base
start_box() {
  : > "$tmp/out"
  local t0; t0=$(date +%s%N)
  NPLUSX_LOG=info "$@" --data "$tmp/data" --listen 127.0.0.1:0 --tls off > "$tmp/out" 2>&1 &
  box=$!
  base=""
  for _ in $(seq 1 600); do
    base=$(sed -n 's/^nplusx listening on \(http:[^ ]*\).*/\1/p' "$tmp/out" | head -1)
    [ -n "$base" ] && break
    kill -0 "$box" 2>/dev/null || { cat "$tmp/out"; fail "it exited before listening"; }
    sleep 0.1
  done
  [ -n "$base" ] || { cat "$tmp/out"; fail "not listening after 60 s"; }
  listen_s=$(secs "$t0")
}

# waits until every bundled plugin the demo switched on runs; prints how long it took
plugins_running() {
  local t0; t0=$(date +%s%N)
  for _ in $(seq 1 1800); do
    local json; json=$(curl -fsS -H "authorization: Bearer $TOKEN" "$base/api/v1/plugins" || true)
    local want; want=$(echo "$json" | python3 -c 'import json,sys; p=json.load(sys.stdin); print(" ".join(x["id"] for x in p if x.get("enabled")))' 2>/dev/null || true)
    local run; run=$(echo "$json" | python3 -c 'import json,sys; p=json.load(sys.stdin); print(" ".join(x["id"] for x in p if x.get("enabled") and (x.get("stats") or {}).get("state")=="running"))' 2>/dev/null || true)
    if [ -n "$want" ] && [ "$want" = "$run" ]; then
      plugins_s=$(secs "$t0")
      ok "plugins running after ${plugins_s} s: $run"
      return
    fi
    sleep 0.5
  done
  echo "$json"; fail "plugins not all running after 15 minutes"
}

stop_box() {
  kill -TERM "$box"
  local code=0
  wait "$box" || code=$?
  box=""
  [ "$code" -eq 0 ] || { cat "$tmp/out"; fail "exit $code on SIGTERM"; }
  grep -q "store closed cleanly" "$tmp/out" || { cat "$tmp/out"; fail "no clean stop"; }
}

rss_mib() { awk '/VmRSS/ {printf "%.0f", $2/1024}' "/proc/$box/status"; }

echo "== the demo on aarch64 (qemu-aarch64)"
start_box qemu-aarch64 -L /usr/aarch64-linux-gnu "$BIN" demo --bootstrap-token "$TOKEN"
ok "listening on $base after ${listen_s} s"
first_listen_s=$listen_s
curl -fsS "$base/healthz" | grep -q '"status":"ok"' || fail "/healthz"
ok "/healthz: $(curl -fsS "$base/healthz")"
plugins_running
first_plugins_s=$plugins_s
sleep 5
rss=$(rss_mib)
ok "resident memory (qemu and the box together) ${rss} MiB"
curl -fsS -H "authorization: Bearer $TOKEN" "$base/api/v1/tags" | python3 -c 'import json,sys; t=json.load(sys.stdin); assert len(t) >= 20, len(t)' \
  || fail "the demo's tags"
ls "$tmp/data/plugin-cache" | grep -q -- "-aarch64-" || fail "no aarch64 compiled plugins in the cache"
stop_box
ok "SIGTERM: exit 0, store closed cleanly"

echo "== the same data dir on x86_64, then back on aarch64"
cargo build -q -p nplusx
start_box target/debug/nplusx serve
plugins_running
stop_box
n_arm=$(ls "$tmp/data/plugin-cache" | grep -c -- "-aarch64-" || true)
n_x86=$(ls "$tmp/data/plugin-cache" | grep -c -- "-x86_64-" || true)
[ "$n_arm" -gt 0 ] && [ "$n_x86" -gt 0 ] || fail "the cache should hold both: aarch64 $n_arm, x86_64 $n_x86"
ok "x86_64 compiled its own ($n_x86 files) beside aarch64's ($n_arm)"
start_box qemu-aarch64 -L /usr/aarch64-linux-gnu "$BIN" serve
ok "aarch64 again: listening after ${listen_s} s"
plugins_running
ok "aarch64 plugins from its cache in ${plugins_s} s"
stop_box

echo "== the arm64 Debian package (cargo-deb, from this binary)"
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
deb=$(cargo deb -p nplusx --target "$TARGET" --no-build | tail -1)
dpkg-deb --info "$deb" | grep -q "Architecture: arm64" || fail "$deb is not arm64"
ok "$deb ($(du -h "$deb" | cut -f1); $(dpkg-deb --info "$deb" | sed -n 's/^ Depends: //p'))"

echo
echo "figures (aarch64 under qemu-user on $(nproc) x86_64 cores):"
echo "  binary $(du -h "$BIN.stripped" | cut -f1) stripped; demo first start: listening after ${first_listen_s} s, plugins compiled and running ${first_plugins_s} s later; RSS ${rss} MiB"
echo "cross build smoke test passed"
