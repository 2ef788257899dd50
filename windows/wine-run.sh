#!/bin/sh
# Runs a Windows program under Wine without a prompt or a pop-up: a prefix of
# pvstream's own (made on first use), no Mono or Gecko installer, no debug
# chatter. meson's exe_wrapper for the cross build's tests, and what the
# Wine tests run programs with.
: "${WINEPREFIX:=${XDG_CACHE_HOME:-$HOME/.cache}/pvstream/wineprefix}"
: "${WINEDEBUG:=-all}"
: "${WINEDLLOVERRIDES:=mscoree,mshtml=}"
# PVS_UNDER_WINE tells a test that Wine's timers and scheduling are in the
# way (test_loopback allows late frames there, never a lost packet).
PVS_UNDER_WINE=1
export WINEPREFIX WINEDEBUG WINEDLLOVERRIDES PVS_UNDER_WINE
if [ ! -f "$WINEPREFIX/.pvs-ready" ]; then
    # Made once, by one caller: parallel tests wait for it.
    mkdir -p "$WINEPREFIX"
    (
        flock 9
        if [ ! -f "$WINEPREFIX/.pvs-ready" ]; then
            wineboot -i >/dev/null 2>&1 || true
            wineserver -w
            touch "$WINEPREFIX/.pvs-ready"
        fi
    ) 9>"$WINEPREFIX.lock"
fi
exec wine "$@"
