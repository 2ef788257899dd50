#!/bin/sh
# The test command: installs what is missing, builds with warnings as
# errors, runs every meson test suite (unit, fuzz replay, headers) and
# compiles the Windows sources with mingw-w64. Ends with "N passed, N failed".
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

status=0
meson test -C build --print-errorlogs --num-processes 2 || status=1
bash scripts/check-windows.sh >build/check-windows.log 2>&1 || { cat build/check-windows.log; status=1; }
tail -n 1 build/check-windows.log | sed 's/^/windows sources: /'

# One closing line over everything that ran.
python3 - build/meson-logs/testlog.json "$(tail -n 1 build/check-windows.log)" <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): passed += 1
    elif r == "SKIP": skipped += 1
    else: failed += 1
win = sys.argv[2].split()
if len(win) >= 4 and win[1] == "passed,":
    passed += int(win[0] != "0" and win[2] == "0")
    failed += int(win[2] != "0")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
