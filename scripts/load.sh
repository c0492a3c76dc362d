#!/usr/bin/env bash
# Load test of the appliance as a plant runs it: the release binary with its demo plant on
# loopback, 200 Server-Sent-Events clients following live values for the whole run, and wrk
# with 200 connections against the API (token), a console page (a signed-in session) and
# /healthz, 30 s each. Prints wrk's figures, the SSE clients' and the box's memory.
#
#   scripts/load.sh            # 200 connections, 30 s per endpoint
#   CONNS=400 SECS=60 scripts/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${CONNS:-200}
SECS=${SECS:-30}
SSE=${SSE:-200}
command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo=sudo; $sudo apt-get install -y -qq wrk; }
cargo build --release --quiet
tmp=$(mktemp -d)
token="load-test-token-$(date +%s)-abcdefghijkl"
ulimit -n 65536 2>/dev/null || true
target/release/nplusx demo --data "$tmp/data" --listen 127.0.0.1:0 --tls off \
  --bootstrap-token "$token" > "$tmp/out.txt" 2> "$tmp/err.txt" &
box=$!
trap 'kill $box 2>/dev/null; wait $box 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 120); do grep -q "nplusx listening on" "$tmp/out.txt" && grep -q "Password: " "$tmp/out.txt" && break; sleep 0.5; done
base=$(sed -n 's/^nplusx listening on //p' "$tmp/out.txt" | head -1)
password=$(sed -n 's/.*Password: //p' "$tmp/out.txt" | head -1 | tr -d '[:space:]')
[ -n "$base" ] || { cat "$tmp/out.txt" "$tmp/err.txt"; exit 1; }
echo "== the box: $base (pid $box), $(nproc) cores"
# a signed-in session for the console pages
jar="$tmp/jar"
csrf=$(curl -s -c "$jar" "$base/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)
curl -s -b "$jar" -c "$jar" -o /dev/null -w '' --data-urlencode "username=admin" \
  --data-urlencode "password=$password" --data-urlencode "csrf=$csrf" --data-urlencode "next=/" "$base/login"
session=$(awk '$6 ~ /session/ {print $6"="$7}' "$jar" | tail -1)
[ -n "$session" ] || { echo "could not sign in"; exit 1; }
sleep 5  # the demo plant's first values
python3 scripts/sse_clients.py "$base" "$token" "$SSE" $((SECS * 3 + 15)) \
  "/api/v1/stream/tags?names=R101.TT101,R101.PT101,GD201" > "$tmp/sse.txt" &
sse=$!
sleep 3
rss() { awk '/VmRSS/ {printf "%.0f MiB", $2/1024}' "/proc/$box/status"; }
echo "== with $SSE SSE clients connected: box RSS $(rss)"
run() {
  local name=$1; shift
  echo "== $name: wrk -t2 -c$CONNS -d${SECS}s $*"
  wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$@" | grep -E "Requests/sec|Latency |50%|99%|Non-2xx|Socket errors|requests in"
  echo "   box RSS after: $(rss)"
}
run "API: the tag list (JSON, token)" -H "Authorization: Bearer $token" "$base/api/v1/tags"
run "console page: the home page (signed in)" -H "Cookie: $session" "$base/"
run "health check" "$base/healthz"
wait $sse
cat "$tmp/sse.txt"
errors=$(grep -c -E " ERROR " "$tmp/err.txt" || true)
echo "== box log: $errors ERROR lines"
