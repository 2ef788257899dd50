#!/bin/sh
# The main job: installs what is missing, builds, and measures the pipeline on
# the built-in test desktop: which encoders work here; 1080p60 desktop
# content through the best one, captured -> converted -> encoded -> decoded,
# with per-stage latency; then the same size and rate of encoded frames
# through the media transport (packets, FEC, SRTP, UDP loopback,
# reassembly) with 5 % of the packets lost on the way. Results also go to
# out/encode.json, out/encode.svg and out/net.json.
# Extra arguments go to `pvstream-bench encode` (see --help).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out
./build/bench/pvstream-bench encoders
echo
./build/bench/pvstream-bench encode --json out/encode.json --svg out/encode.svg "$@"
echo
exec ./build/bench/pvstream-bench net --seconds 5 --loss 5 --json out/net.json
