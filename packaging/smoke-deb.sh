#!/usr/bin/env bash
# Builds the Debian package and tries it as a plant admin would, in a clean Debian system
# (a debootstrap chroot under target/deb-smoke, kept between runs): install, the service user,
# its config and data dir, start it as the unit does (user nplusx, the packaged config), its
# first sign-in, /healthz over HTTPS, a clean stop, then purge leaves nothing behind.
# Needs root (chroot, mount) and the network (Debian's mirror, once).
#
#   packaging/smoke-deb.sh            # build + smoke test
#   NO_BUILD=1 packaging/smoke-deb.sh # reuse target/debian/*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "run as root (chroot and mount)" >&2; exit 1; }
ok() { echo "  ok: $*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

if [ -z "${NO_BUILD:-}" ]; then
  command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
  cargo deb -p nplusx
fi
deb=$(ls -t target/debian/nplusx_*.deb | head -1)
echo "== package: $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --info "$deb" | sed -n 's/^ \(Package\|Version\|Architecture\|Depends\|Installed-Size\):/  \1:/p'

root=target/deb-smoke/root
if [ ! -x "$root/usr/bin/dpkg" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap
  echo "== a clean Debian (bookworm, minbase) in $root"
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian > target/deb-smoke/debootstrap.log
fi
mount -t proc proc "$root/proc"
box=""
cleanup() {
  [ -n "$box" ] && kill "$box" 2>/dev/null || true
  umount "$root/proc" 2>/dev/null || true
}
trap cleanup EXIT
in_root() { chroot "$root" "$@"; }

echo "== install"
cp "$deb" "$root/tmp/nplusx.deb"
in_root dpkg -i /tmp/nplusx.deb | sed 's/^/  | /'
in_root getent passwd nplusx | grep -q "/var/lib/nplusx:/usr/sbin/nologin" && ok "service user nplusx, no login shell" || fail "service user"
[ "$(in_root stat -c '%U:%G %a' /etc/nplusx/nplusx.toml)" = "root:nplusx 640" ] && ok "/etc/nplusx/nplusx.toml root:nplusx 640 (a conffile)" || fail "config ownership: $(in_root stat -c '%U:%G %a' /etc/nplusx/nplusx.toml)"
[ "$(in_root stat -c '%U:%G %a' /var/lib/nplusx)" = "nplusx:nplusx 750" ] && ok "/var/lib/nplusx nplusx:nplusx 750" || fail "data dir"
unit=$root/lib/systemd/system/nplusx.service
[ -f "$unit" ] || unit=$root/usr/lib/systemd/system/nplusx.service
grep -q "^NoNewPrivileges=true" "$unit" && grep -q "^ProtectSystem=strict" "$unit" && grep -q "^PrivateTmp=true" "$unit" \
  && grep -q "^CapabilityBoundingSet=$" "$unit" && ok "unit hardened: no new privileges, read-only system, private tmp, no capabilities"
in_root dpkg-query -W -f='${Conffiles}\n' nplusx | grep -q /etc/nplusx/nplusx.toml && ok "config kept as a conffile on upgrades"

echo "== start as the unit does (user nplusx, the packaged config; port 18443 for the test)"
in_root runuser -u nplusx -- /usr/bin/nplusx serve --config /etc/nplusx/nplusx.toml \
  --listen 127.0.0.1:18443 > target/deb-smoke/out.txt 2> target/deb-smoke/err.txt &
box=$!
for _ in $(seq 1 60); do grep -q "Password: " target/deb-smoke/out.txt && break; sleep 0.5; done
grep -q "Password: " target/deb-smoke/out.txt && ok "first start prints the admin's sign-in once" || { cat target/deb-smoke/out.txt target/deb-smoke/err.txt; fail "no sign-in printed"; }
health=$(curl -sk --max-time 5 https://127.0.0.1:18443/healthz)
echo "$health" | grep -q '"store"' && ok "/healthz over HTTPS (self-signed): $health" || fail "healthz: $health"
# SIGTERM to the server itself, as systemd sends it (not to the chroot/runuser wrapper)
server=$(pgrep -n -f "^/usr/bin/nplusx serve --config /etc/nplusx/nplusx.toml")
kill -TERM "$server"
wait "$box" && ok "SIGTERM: clean stop (exit 0)" || fail "stop exit $?"
box=""
grep -q "store closed cleanly" target/deb-smoke/err.txt target/deb-smoke/out.txt && ok "store closed cleanly"
[ -f "$root/var/lib/nplusx/nplusx.redb" ] && [ "$(in_root stat -c '%U' /var/lib/nplusx/nplusx.redb)" = nplusx ] && ok "store written by nplusx in /var/lib/nplusx"

echo "== purge"
in_root dpkg --purge nplusx | sed 's/^/  | /'
in_root getent passwd nplusx >/dev/null && fail "user left behind" || ok "user removed"
[ -e "$root/var/lib/nplusx" ] || [ -e "$root/etc/nplusx" ] && fail "files left behind" || ok "/var/lib/nplusx and /etc/nplusx removed"
[ -e "$root/usr/bin/nplusx" ] && fail "binary left" || ok "binary removed"
echo "== the .deb installs, starts, answers and purges cleanly"
