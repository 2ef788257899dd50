#!/bin/sh
# The test command: installs what is missing, builds with warnings as
# errors, runs every meson test suite (unit, integration, fuzz replay,
# headers), then builds again with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/) and runs the unit, integration
# and fuzz suites there too, then builds the Windows zip
# (scripts/build-windows.sh: the libraries once per machine, cached after)
# and runs its unit, fuzz and loopback suites and the cross-platform checks
# (scripts/test-windows.sh) under Wine. Ends with "N passed, N failed,
# N skipped" over all of it.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh --windows
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
# Windows: the zip, its suites under Wine (meson's exe_wrapper), then the
# programs across the two systems.
rm -f build-win/meson-logs/testlog.json build-win/test-windows.log
if scripts/build-windows.sh; then
  meson test -C build-win --print-errorlogs --num-processes 2 \
    --suite unit --suite integration --suite fuzz || status=1
  scripts/test-windows.sh >build-win/test-windows.log 2>&1 || status=1
  cat build-win/test-windows.log
else
  echo "test: the Windows build failed" >&2
  status=1
fi

# One closing line over everything that ran (a missing log is a failure).
python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
    build-win/meson-logs/testlog.json build-win/test-windows.log <<'PY'
import json, re, sys
passed = failed = skipped = 0
for log in sys.argv[1:]:
    try:
        text = open(log).read()
    except OSError:
        print(f"missing: {log}")
        failed += 1
        continue
    if log.endswith(".log"):  # scripts/test-windows.sh's closing line
        m = re.findall(r"^(\d+) passed, (\d+) failed, (\d+) skipped$", text, re.M)
        if not m:
            failed += 1
            continue
        passed += int(m[-1][0]); failed += int(m[-1][1]); skipped += int(m[-1][2])
        continue
    for line in text.splitlines():
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
