#!/bin/sh
# Measures a tuned ffmpeg pipeline the way pvstream-bench e2e measures
# pvstream: on a painted Xvfb display (pvstream-bench paint puts the frame
# stamp on every frame), ffmpeg grabs the screen (x11grab), encodes it with
# libx264 ultrafast/zerolatency, sends MPEG-TS over UDP loopback; a second
# ffmpeg receives, decodes and writes raw grey frames to
# `pvstream-bench stampread`, which reports painted -> decoded latency.
# Usage: scripts/compare-ffmpeg.sh [SECONDS] [WxH] [FPS]   (needs ffmpeg)
set -eu
cd "$(dirname "$0")/.."
secs=${1:-10}; size=${2:-1920x1080}; fps=${3:-60}
bench=./build/bench/pvstream-bench
command -v ffmpeg >/dev/null || { echo "compare-ffmpeg: ffmpeg is not installed (apt-get install ffmpeg)" >&2; exit 1; }
n=71; while [ -e /tmp/.X11-unix/X$n ] || [ -e /tmp/.X$n-lock ]; do n=$((n + 1)); done
mkdir -p out
Xvfb :$n -screen 0 "${size}x24" -nolisten tcp -noreset >out/ffmpeg-xvfb.log 2>&1 &
xvfb=$!
trap 'kill $paint $recv $send $xvfb 2>/dev/null || true' EXIT
paint=; recv=; send=
while [ ! -e /tmp/.X11-unix/X$n ]; do sleep 0.1; done
$bench paint --display :$n --fps "$fps" >out/ffmpeg-paint.log 2>&1 &
paint=$!
port=$((43000 + $$ % 1000))
frames=$((secs * fps))
# The receiver: as little buffering as ffmpeg allows.
ffmpeg -hide_banner -loglevel error -fflags nobuffer -flags low_delay -probesize 32 \
    -analyzeduration 0 -i "udp://127.0.0.1:$port?fifo_size=0&overrun_nonfatal=1" \
    -f rawvideo -pix_fmt gray pipe: 2>out/ffmpeg-recv.log |
    $bench stampread --size "$size" --pix-fmt gray --frames "$frames" --json out/ffmpeg.json &
recv=$!
sleep 0.5
ffmpeg -hide_banner -loglevel error -f x11grab -framerate "$fps" -video_size "$size" -i :$n \
    -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p -g 600 \
    -b:v "$((${size%x*} * ${size#*x} * fps * 15 / 100))" \
    -f mpegts "udp://127.0.0.1:$port?pkt_size=1316" >out/ffmpeg-send.log 2>&1 &
send=$!
wait $recv || true
