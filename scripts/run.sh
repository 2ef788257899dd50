#!/bin/sh
# The main job: installs what is missing, builds, says which encoders work
# here, then streams a desktop to a local client and prints what it
# measured: pvstream-bench e2e starts a private X server (Xvfb) with
# desktop-like content painted on it (the frame stamp in each frame),
# pvstream-server capturing it, and a headless pvstream-client on loopback,
# and reports painted -> decoded latency by stage; then pvstream-bench audio
# does the same for sound (a private PulseAudio server, tone bursts, the
# client's SDL output to a file). Results also go to out/e2e.json and
# out/audio.json; the programs' logs to out/e2e-*.log and out/audio-*.log.
# Extra arguments go to `pvstream-bench e2e` (see --help), for example
# --size 3840x2160 --fps 120 --seconds 30.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
mkdir -p out
./build/bench/pvstream-bench encoders
echo
./build/bench/pvstream-bench e2e --json out/e2e.json "$@"
echo
exec ./build/bench/pvstream-bench audio --seconds 10 --json out/audio.json
