#!/bin/sh
# The test command: installs what is missing, builds with warnings as
# errors, runs every meson test suite (unit, integration, fuzz replay,
# headers), then builds again with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/) and runs the unit, integration
# and fuzz suites there too, and compiles the Windows sources with
# mingw-w64. Ends with "N passed, N failed, N skipped" over all of it.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh

status=0
meson test -C build --print-errorlogs --num-processes 2 || status=1

# The same code under the sanitizers (tests/meson.build sets their options:
# UBSan stops at the first report, LeakSanitizer skips tests/lsan.supp).
if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null 2>&1 ||
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C build-asan >/dev/null || ninja -C build-asan
meson test -C build-asan --print-errorlogs --num-processes 2 \
  --suite unit --suite integration --suite fuzz || status=1
bash scripts/check-windows.sh >build/check-windows.log 2>&1 || { cat build/check-windows.log; status=1; }
tail -n 1 build/check-windows.log | sed 's/^/windows sources: /'

# One closing line over everything that ran.
python3 - "$(tail -n 1 build/check-windows.log)" build/meson-logs/testlog.json \
    build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for log in sys.argv[2:]:
    for line in open(log):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
win = sys.argv[1].split()
if len(win) >= 4 and win[1] == "passed,":
    passed += int(win[0] != "0" and win[2] == "0")
    failed += int(win[2] != "0")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
