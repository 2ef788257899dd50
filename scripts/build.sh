#!/bin/sh
# Configures (once) and builds pvstream in ./build with warnings as errors.
# Usage: scripts/build.sh [extra meson setup options]
set -eu
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  meson setup build --werror "$@" >build-setup.log 2>&1 || { cat build-setup.log; exit 1; }
  sed -n '/^pvstream/,$p' build-setup.log | grep -v '^Found ninja' || true
  rm -f build-setup.log
fi
ninja -C build >/dev/null || ninja -C build
