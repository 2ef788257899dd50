#!/bin/sh
# The GameStream host mode against the real Moonlight client
# (moonlight-embedded, built here from ../shared/third-party/test-peers;
# never linked into pvstream): pairing with the PIN typed through
# `pvstream-server pin`, a wrong PIN refused, the app list, `clients` and
# `unpair`; and streaming: a painted Xvfb display (`pvstream-bench paint`,
# frame stamps) captured by the server and decoded by the client into its
# SDL window on a second Xvfb, where gs_xtool reads the stamps back (the
# picture got there, and how late) and types and moves the pointer through
# the window (it must arrive on the server's display); the session's figures
# in the server's log; `moonlight quit` ends it; a second stream (HEVC)
# after it works.
# Usage: test_gamestream.sh PATH/TO/pvstream-server MOONLIGHT-TARBALL
#        PATH/TO/pvstream-bench PATH/TO/gs_xtool
# Exits 77 (skipped) when the tarball or the client's build tools are missing;
# without Xvfb the streaming checks are skipped (said), the rest run.
set -u
server=$1
tarball=$2
bench=${3:-}
xtool=${4:-}
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
bg_pids=
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
    for p in $bg_pids; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
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

# Two private X displays, 1280x720: the server's desktop, painted with
# frame stamps, and the client's screen. Xvfb picks free numbers; xvfb
# sets $disp (not in a subshell: its pid must reach cleanup).
xvfb() {
    Xvfb -displayfd 3 -screen 0 1280x720x24 -nolisten tcp 3>"$tmp/$1.num" >/dev/null 2>&1 &
    bg_pids="$bg_pids $!"
    i=0
    until [ -s "$tmp/$1.num" ]; do
        i=$((i + 1)); [ $i -gt 100 ] && return 1; sleep 0.1
    done
    disp=":$(cat "$tmp/$1.num")"
}
xa= xb=
if command -v Xvfb >/dev/null && [ -x "$bench" ] && [ -x "$xtool" ]; then
    if xvfb xa && xa=$disp && xvfb xb; then xb=$disp
    else fail "Xvfb did not start"; xa= xb=; fi
fi
if [ -n "$xa" ]; then
    "$bench" paint --display "$xa" --fps 30 >"$tmp/paint.log" 2>&1 &
    bg_pids="$bg_pids $!"
    capture="--capture x11 --display $xa --encoder auto --audio-source tone"
else
    echo "skip: streaming checks (no Xvfb, or no pvstream-bench and gs_xtool given)"
    capture="--capture testsrc --encoder libx264 --no-audio"
fi

# shellcheck disable=SC2086
"$server" $capture --port "$port" --gamestream-port "$gs" \
    --gamestream-apps "Notepad, Steam" --exit-after 240 >"$tmp/server.log" 2>&1 &
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

# waits up to $3 tenths of a second for the $2-th line matching $1 in file $4
wait_line() {
    i=0
    until [ "$(grep -c "$1" "$4" 2>/dev/null)" -ge "$2" ]; do
        i=$((i + 1)); [ $i -gt "$3" ] && return 1; sleep 0.1
    done
}
serverinfo() { curl -s "http://127.0.0.1:$gs/serverinfo?uniqueid=0123456789ABCDEF" 2>&1; }
# The client's own complaints about what it received.
client_errors() {
    grep -E "Unrecoverable frame|Network dropped|Failed to decrypt|Decode failed|Opus error|Waiting for IDR|Invalid last payload|drop limit" "$1" | head -3
}
# streams with the SDL client on the second display: log file, then options.
# Its messages are printf's: line-buffered, so the log shows them as they
# come. ml_pid is timeout's, which passes a TERM on to the client.
stream() {
    log=$1; shift
    DISPLAY=$xb SDL_AUDIODRIVER=dummy XDG_CACHE_HOME="$tmp/ml-a" HOME="$tmp/ml-a" \
        stdbuf -oL timeout 60 "$moonlight" stream 127.0.0.1 -app Desktop -platform sdl \
        -width 1280 -height 720 -fps 30 -bitrate 5000 "$@" -port "$gs" >"$log" 2>&1 </dev/null &
    ml_pid=$!
    bg_pids="$bg_pids $ml_pid"
}
# reads the number before $1 in the last session line of the server's log
session_figure() { grep "gamestream: session with" "$tmp/server.log" | tail -1 | sed -n "s/.* \([0-9][0-9]*\) $1.*/\1/p"; }

if [ -n "$xa" ]; then
    stream "$tmp/stream1.log"
    if wait_line "streaming to the Moonlight client" 1 200 "$tmp/server.log" &&
       wait_line "Received first video packet" 1 100 "$tmp/stream1.log"; then
        ok "the client streams (H.264): $(grep -o "asks for .*" "$tmp/server.log" | head -1)"
    else
        fail "no stream: $(tail -5 "$tmp/stream1.log")"
    fi
    sleep 2
    # The painted stamps, read off the client's screen: decoded and shown.
    out=$("$xtool" stamps "$xb" 5)
    distinct=$(echo "$out" | sed -n 's/.* \([0-9]*\) distinct.*/\1/p')
    if [ "${distinct:-0}" -ge 30 ]; then ok "the client's window shows the server's frames: $out"
    else fail "the client's window: $out"; fi
    info=$(serverinfo)
    if echo "$info" | grep -q "<currentgame>1</currentgame><state>SUNSHINE_SERVER_BUSY"
    then ok "serverinfo says Desktop is streaming"
    else fail "serverinfo while streaming: $info"; fi
    # Input typed and moved in the client's window reaches the server's display.
    if out=$("$xtool" key "$xb" "$xa" 38); then ok "a key through Moonlight: $out"
    else fail "a key through Moonlight: $out"; fi
    if out=$("$xtool" move "$xb" "$xa" 40 30); then ok "the mouse through Moonlight: $out"
    else fail "the mouse through Moonlight: $out"; fi
    sleep 1

    # quit (/cancel): the host ends the session and tells the client.
    out=$(ml a quit 127.0.0.1)
    i=0
    while kill -0 "$ml_pid" 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
    if ! kill -0 "$ml_pid" 2>/dev/null && grep -q "terminated gracefully" "$tmp/stream1.log" &&
       wait_line "gamestream: session with" 1 50 "$tmp/server.log"
    then ok "moonlight quit ends the session: $(grep "gamestream: session with" "$tmp/server.log" | tail -1)"
    else fail "moonlight quit: $out / $(tail -3 "$tmp/stream1.log")"; fi
    frames=$(session_figure "video frames"); audio=$(session_figure "audio packets")
    inputs=$(session_figure "input events")
    # About 9 s at 30 fps (270; a slow machine encodes fewer); audio every
    # 5 ms; key down, up, motion.
    if [ "${frames:-0}" -ge 100 ] && [ "${audio:-0}" -ge 800 ] && [ "${inputs:-0}" -ge 3 ]
    then ok "sent $frames frames and $audio audio packets, $inputs input events came back"
    else fail "the session's figures: ${frames:-?} frames, ${audio:-?} audio packets, ${inputs:-?} input events"; fi
    errs=$(client_errors "$tmp/stream1.log")
    if [ -z "$errs" ]; then ok "the client lost nothing and decoded everything"
    else fail "the client says: $errs"; fi
    info=$(serverinfo)
    if echo "$info" | grep -q "<currentgame>0</currentgame><state>SUNSHINE_SERVER_FREE"
    then ok "serverinfo says free again"
    else fail "serverinfo after quit: $info"; fi

    # Again, in HEVC: a new launch after quit streams; the client going
    # away ends the session.
    stream "$tmp/stream2.log" -codec h265
    if wait_line "streaming to the Moonlight client" 2 200 "$tmp/server.log" &&
       wait_line "Received first video packet" 1 100 "$tmp/stream2.log"; then
        sleep 2
        out=$("$xtool" stamps "$xb" 3)
        distinct=$(echo "$out" | sed -n 's/.* \([0-9]*\) distinct.*/\1/p')
        if [ "${distinct:-0}" -ge 15 ] && grep -q "encoding .* with .*265\|encoding .* with hevc" "$tmp/server.log"
        then ok "a second stream, HEVC: $out"
        else fail "the second stream (HEVC): $out"; fi
    else
        fail "no second stream: $(tail -5 "$tmp/stream2.log")"
    fi
    kill "$ml_pid" 2>/dev/null
    if wait_line "gamestream: session with" 2 150 "$tmp/server.log"
    then ok "the client went: $(grep "gamestream: session with" "$tmp/server.log" | tail -1 | sed 's/.* ended (\([^)]*\)): \([0-9]* video frames\).*/the session ended (\1) after \2/')"
    else fail "the session did not end when the client went"; fi
    errs=$(client_errors "$tmp/stream2.log")
    if [ -z "$errs" ]; then ok "the HEVC client lost nothing"; else fail "the HEVC client says: $errs"; fi
fi

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
