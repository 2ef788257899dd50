#!/bin/sh
# The mDNS announcement through a real avahi-daemon: starts a private D-Bus
# system bus and an avahi-daemon on it (root only: the daemon keeps its pid
# file in /run), runs test_gs_mdns with PVS_TEST_MDNS=1 (the service must be
# announced), and checks from outside, with avahi-browse, that the
# announcement resolves to the port asked for. Exits 77 (skipped), saying
# why, where the daemon cannot run.
# Usage: test_gs_mdns_daemon.sh PATH/TO/test_gs_mdns
set -u
test_exe=$1
skip() { echo "skipped: $*"; exit 77; }
for tool in dbus-daemon avahi-daemon avahi-browse; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed (scripts/install-deps.sh)"
done
[ "$(id -u)" -eq 0 ] || skip "avahi-daemon needs root to run here"
[ -e /run/avahi-daemon/pid ] && skip "an avahi-daemon already runs on this machine"

tmp=$(mktemp -d) || exit 1
dbus_pid=; avahi_pid=; hold_pid=
cleanup() {
    for p in $hold_pid $avahi_pid $dbus_pid; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

# A system bus of our own, with the system's policies (Avahi's among them).
sed -e "s|<listen>.*</listen>|<listen>unix:path=$tmp/bus</listen>|" \
    -e 's|<user>messagebus</user>||' -e 's|<pidfile>.*</pidfile>||' \
    -e 's|<includedir>system.d</includedir>|<includedir>/usr/share/dbus-1/system.d</includedir>|' \
    /usr/share/dbus-1/system.conf > "$tmp/bus.conf"
dbus-daemon --config-file="$tmp/bus.conf" --nofork >"$tmp/dbus.log" 2>&1 &
dbus_pid=$!
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/bus"
i=0
while [ ! -S "$tmp/bus" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$tmp/bus" ] || skip "the private D-Bus did not start: $(cat "$tmp/dbus.log")"

avahi-daemon --no-drop-root --no-chroot --no-rlimits -f /etc/avahi/avahi-daemon.conf \
    >"$tmp/avahi.log" 2>&1 &
avahi_pid=$!
i=0
while ! grep -q "Server startup complete" "$tmp/avahi.log" && [ $i -lt 100 ]; do
    kill -0 "$avahi_pid" 2>/dev/null || skip "avahi-daemon cannot run here: $(tail -n 3 "$tmp/avahi.log")"
    sleep 0.1; i=$((i + 1))
done
grep -q "Server startup complete" "$tmp/avahi.log" || skip "avahi-daemon did not start in 10 s"

PVS_TEST_MDNS=1 "$test_exe" || exit 1

# Seen from outside: the test program announces "pvstream test host" on
# 47989 while it holds the service (PVS_TEST_MDNS_HOLD_MS), and
# avahi-browse resolves it.
PVS_TEST_MDNS=1 PVS_TEST_MDNS_HOLD_MS=4000 "$test_exe" >"$tmp/hold.log" 2>&1 &
hold_pid=$!
sleep 1
avahi-browse --resolve --terminate --parsable _nvstream._tcp >"$tmp/browse" 2>&1
if grep -q '^=;.*;pvstream\\032test\\032host;_nvstream\._tcp;local;.*;47989;' "$tmp/browse"; then
    echo "avahi-browse resolved the service:"
    grep '^=' "$tmp/browse"
    echo "1 passed, 0 failed"
else
    echo "FAIL: avahi-browse did not find pvstream test host on 47989:" >&2
    cat "$tmp/browse" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
