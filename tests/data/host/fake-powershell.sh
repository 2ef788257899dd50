#!/bin/sh
# A stand-in for powershell.exe, for the tests only: they point
# $PVS_POWERSHELL here. It takes the real argument shape,
#   -NoProfile -NonInteractive -ExecutionPolicy Bypass -File FILE.ps1
# and refuses any other (exit 64), then:
#   FAKE_PS_LIST    when set and FILE is the list probe ("# pvstream-probe
#                   list" in it): prints this file, exits 0, logs nothing
#                   (apply lists the GPUs before it runs its script)
#   FAKE_PS_LOG     the script is copied here, byte for byte
#   FAKE_PS_OUTPUT  printed on standard output
#   FAKE_PS_STDERR  printed on standard error
#   FAKE_PS_STATUS  the exit status (default 0)
set -u

if [ "$#" -ne 6 ] || [ "$1" != -NoProfile ] || [ "$2" != -NonInteractive ] ||
   [ "$3" != -ExecutionPolicy ] || [ "$4" != Bypass ] || [ "$5" != -File ]; then
    echo "fake-powershell: unexpected arguments: $*" >&2
    exit 64
fi
script=$6
case $script in
    *.ps1) ;;
    *) echo "fake-powershell: -File $script: not a .ps1 file" >&2; exit 64 ;;
esac
if [ ! -f "$script" ]; then
    echo "fake-powershell: no such script: $script" >&2
    exit 65
fi

if [ -n "${FAKE_PS_LIST:-}" ] && grep -q '^# pvstream-probe list' "$script"; then
    cat "$FAKE_PS_LIST"
    exit 0
fi
if [ -n "${FAKE_PS_LOG:-}" ]; then
    cp "$script" "$FAKE_PS_LOG" || exit 66
fi
if [ -n "${FAKE_PS_OUTPUT:-}" ]; then
    cat "$FAKE_PS_OUTPUT"
fi
if [ -n "${FAKE_PS_STDERR:-}" ]; then
    cat "$FAKE_PS_STDERR" >&2
fi
exit "${FAKE_PS_STATUS:-0}"
