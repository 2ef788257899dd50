#!/bin/sh
# The main job: installs what is missing, builds, and measures the encode
# path on the built-in test desktop (1080p60 desktop content through the best
# encoder found here), printing per-stage latency. Results also go to
# out/encode.json and out/encode.svg.
# Extra arguments go to `pvstream-bench encode` (see --help).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out
./build/bench/pvstream-bench encoders
echo
exec ./build/bench/pvstream-bench encode --json out/encode.json --svg out/encode.svg "$@"
