#!/bin/sh
# Installs every package pvstream needs to build, run and test, from Debian's
# archive (Debian 12). Safe to run again: it installs only what is missing
# and prints nothing when everything is there.
# Usage: scripts/install-deps.sh [--windows]   (--windows: also what the
# Windows build and its tests under Wine need)
set -eu

PACKAGES="
  meson ninja-build pkg-config gcc python3
  libavcodec-dev libavutil-dev libswscale-dev
  libyuv-dev libinih-dev libisal-dev
  libsrtp2-dev libenet-dev libsodium-dev
  libsdl2-dev libxcb1-dev libxcb-shm0-dev libxcb-xfixes0-dev libxcb-damage0-dev
  libxcb-randr0-dev libxcb-xtest0-dev xvfb x11-xserver-utils xauth
  libopus-dev libpulse-dev pulseaudio
  libmbedtls-dev libavahi-client-dev avahi-daemon avahi-utils dbus
  cmake libexpat1-dev libcurl4-openssl-dev libssl-dev libevdev-dev libudev-dev uuid-dev
  libxml2-dev
"
# (mbedtls, avahi: the GameStream host mode; avahi-daemon, avahi-utils and
# dbus let the mDNS test announce through a private daemon. cmake to uuid-dev: building the
# real Moonlight client that the GameStream tests run against,
# ../shared/third-party/test-peers. libxml2-dev: the pvstream-host vm test
# reads the answer file back with a real XML parser.)
if [ "${1:-}" = --windows ]; then
  PACKAGES="$PACKAGES
    gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 nasm yasm cmake make
    autoconf automake libtool zip xz-utils git wine wine64
  "
fi

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install:$missing" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing$missing"
$sudo apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
