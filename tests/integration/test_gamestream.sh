#!/bin/sh
# The GameStream host mode against the real Moonlight client
# (moonlight-embedded, built here from ../shared/third-party/test-peers;
# never linked into pvstream): pairing with the PIN typed through
# `pvstream-server pin`, a wrong PIN refused, the app list, `clients` and
# `unpair`, and launching (refused with a reason until streaming to Moonlight
# is built).
# Usage: test_gamestream.sh PATH/TO/pvstream-server MOONLIGHT-TARBALL
# Exits 77 (skipped) when the tarball or the client's build tools are missing.
set -u
server=$1
tarball=$2
if [ ! -f "$tarball" ]; then
    echo "skip: no Moonlight test client at $tarball" >&2
    exit 77
fi
command -v cmake >/dev/null || { echo "skip: cmake is missing (scripts/install-deps.sh)" >&2; exit 77; }

# The client, built once per tarball (about 10 s on 2 cores).
name=$(basename "$tarball" .tar.xz)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/pvstream/$name
moonlight=$cache/build/moonlight
if [ ! -x "$moonlight" ]; then
    rm -rf "$cache" && mkdir -p "$cache" || exit 1
    tar -xJf "$tarball" -C "$cache" || exit 1
    if ! cmake -S "$cache/$name" -B "$cache/build" -DENABLE_CEC=OFF >"$cache/cmake.log" 2>&1 ||
       ! cmake --build "$cache/build" -j2 >"$cache/build.log" 2>&1; then
        echo "FAIL: cannot build the Moonlight test client (see $cache/cmake.log, $cache/build.log)" >&2
        exit 1
    fi
fi

tmp=$(mktemp -d) || exit 1
srv_pid=
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
passed=0; failed=0
ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1" >&2; }

# Ports away from a GameStream host that may run here: the HTTP port and
# the ones derived from it (HTTPS 5 below, RTSP 21 above).
port=$((30000 + $$ % 20000))
gs=$((port + 100))
mkdir -m 700 "$tmp/cfg" "$tmp/ml-a" "$tmp/ml-b"
export PVS_CONFIG_DIR="$tmp/cfg"
# Each client's own identity (moonlight-embedded keeps it in
# $XDG_CACHE_HOME/moonlight).
ml() { who=$1; shift; XDG_CACHE_HOME="$tmp/ml-$who" HOME="$tmp/ml-$who" timeout 60 "$moonlight" "$@" -port "$gs" 2>&1; }

"$server" --capture testsrc --encoder libx264 --no-audio --port "$port" --gamestream-port "$gs" \
    --gamestream-apps "Notepad, Steam" --exit-after 120 >"$tmp/server.log" 2>&1 &
srv_pid=$!
i=0
until grep -q "Moonlight clients may pair" "$tmp/server.log" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 "$srv_pid" 2>/dev/null; then
        cat "$tmp/server.log" >&2
        fail "the server did not start its GameStream side"
        echo "$passed passed, $failed failed"
        exit 1
    fi
    sleep 0.1
done
ok "the server serves Moonlight on $gs (HTTPS $((gs - 5)))"

# Not paired: the app list is refused.
out=$(ml a list 127.0.0.1)
if echo "$out" | grep -q "^[0-9]\. Desktop"; then fail "an unpaired client got the app list: $out"
else ok "an unpaired client gets no app list"; fi

# waits until the server's log says a client waits for its PIN (n-th time)
wait_waiting() {
    i=0
    until [ "$(grep -c "wants to pair" "$tmp/server.log")" -ge "$1" ]; do
        i=$((i + 1)); [ $i -gt 300 ] && return 1; sleep 0.1
    done
}

# A wrong PIN: the client shows 1111, the host types 2222.
ml b pair 127.0.0.1 -pin 1111 >"$tmp/pair-b.log" </dev/null &
pair_pid=$!
if wait_waiting 1; then
    "$server" pin 2222 >"$tmp/pin-b.log" 2>&1
    wait "$pair_pid"
    if grep -q "Succesfully paired" "$tmp/pair-b.log"; then fail "paired with a wrong PIN"
    elif grep -qi "fail" "$tmp/pair-b.log"; then ok "a wrong PIN: $(grep -i fail "$tmp/pair-b.log" | head -1)"
    else fail "a wrong PIN: $(cat "$tmp/pair-b.log")"; fi
else
    kill "$pair_pid" 2>/dev/null; fail "the server never said a client waits for its PIN"
fi

# The right PIN.
ml a pair 127.0.0.1 -pin 4321 >"$tmp/pair-a.log" </dev/null &
pair_pid=$!
if wait_waiting 2 && "$server" pin 4321 >"$tmp/pin-a.log" 2>&1; then
    wait "$pair_pid"
    if grep -q "Succesfully paired" "$tmp/pair-a.log"; then ok "paired: $(cat "$tmp/pin-a.log")"
    else fail "pairing: $(cat "$tmp/pair-a.log")"; fi
else
    kill "$pair_pid" 2>/dev/null; fail "pvstream-server pin 4321: $(cat "$tmp/pin-a.log" 2>/dev/null)"
fi

# No client waiting: the PIN is refused with a reason.
if "$server" pin 4321 >"$tmp/pin-none.log" 2>&1; then fail "a PIN nobody waited for was taken"
elif grep -q "no Moonlight client is waiting" "$tmp/pin-none.log"; then ok "a PIN with nobody waiting is refused"
else fail "a PIN with nobody waiting: $(cat "$tmp/pin-none.log")"; fi
if "$server" pin 12a4 >/dev/null 2>&1; then fail "pin 12a4 accepted"; else ok "pin 12a4 refused"; fi

out=$(ml a list 127.0.0.1)
if echo "$out" | grep -q "^[0-9]\. Desktop" && echo "$out" | grep -q "^[0-9]\. Notepad" &&
   echo "$out" | grep -q "^[0-9]\. Steam"
then ok "the app list: $(echo "$out" | grep -c '^[0-9]\.') apps"
else fail "the app list: $out"; fi

out=$(ml b list 127.0.0.1)
if echo "$out" | grep -q "^[0-9]\. Desktop"; then fail "the client with the wrong PIN got the app list"
else ok "the client with the wrong PIN is not paired"; fi

# Launching: refused with the host's reason until streaming to Moonlight
# is built (the client must not hang).
: >"$tmp/mapping"
out=$(ml a stream 127.0.0.1 -app Desktop -platform fake -mapping "$tmp/mapping" -width 1280 -height 720 -fps 30)
if grep -q "not built yet" "$tmp/server.log"; then ok "launch reached the host and was refused"
else fail "launch: $out"; fi

paired=$(PVS_CONFIG_DIR="$tmp/cfg" "$server" clients 2>&1 | awk '/^roth-/ {print $1}')
if [ -n "$paired" ] && [ "$(echo "$paired" | wc -l)" -eq 1 ]; then ok "clients lists $paired"
else fail "clients: $(PVS_CONFIG_DIR="$tmp/cfg" "$server" clients 2>&1)"; fi
if [ -n "$paired" ] && "$server" unpair "$paired" >/dev/null 2>&1; then
    out=$(ml a list 127.0.0.1)
    if echo "$out" | grep -q "^[0-9]\. Desktop"; then fail "an unpaired client still gets the app list"
    else ok "unpair $paired: it gets no app list"; fi
else
    fail "unpair $paired"
fi

kill "$srv_pid" 2>/dev/null; wait "$srv_pid" 2>/dev/null; srv_pid=
if grep -q "pvstream-server: stopped" "$tmp/server.log"; then ok "the server stops cleanly"
else fail "the server's end: $(tail -3 "$tmp/server.log")"; fi
[ "$failed" -eq 0 ] || { echo "server log:" >&2; cat "$tmp/server.log" >&2; }
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
