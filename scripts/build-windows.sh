#!/usr/bin/env bash
# Builds pvstream for 64-bit Windows on Debian and packs the zip a Windows
# user downloads: every library cross-compiled with mingw-w64 from the pinned
# sources of windows/deps.txt into one static prefix (cached outside the
# clone), then pvstream itself with a meson cross file, then
# dist/pvstream-VERSION-windows-x64.zip.
#
# On Debian it cross-compiles with mingw-w64; in an MSYS2 UCRT64 shell on
# Windows it uses that shell's own compilers (README.md, "Windows").
#
# Usage: scripts/build-windows.sh [--jobs N] [--out DIR] [--builddir DIR] [--libs-only]
# Environment:
#   PVS_THIRD_PARTY  the archives of windows/deps.txt (default ../shared/third-party
#                    when it exists; without it the pinned commits are cloned)
#   XDG_CACHE_HOME   the library prefix goes to $XDG_CACHE_HOME/pvstream (~/.cache)
# Needs: scripts/install-deps.sh --windows
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
out=$root/dist
builddir=$root/build-win
libs_only=0

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
}
while [ $# -gt 0 ]; do
    case $1 in
        --jobs) [ $# -ge 2 ] || { echo "build-windows: --jobs needs a number" >&2; exit 2; }
                jobs=$2; shift ;;
        --jobs=*) jobs=${1#*=} ;;
        --out) [ $# -ge 2 ] || { echo "build-windows: --out needs a directory" >&2; exit 2; }
               out=$2; shift ;;
        --out=*) out=${1#*=} ;;
        --builddir) [ $# -ge 2 ] || { echo "build-windows: --builddir needs a directory" >&2; exit 2; }
                    builddir=$2; shift ;;
        --builddir=*) builddir=${1#*=} ;;
        --libs-only) libs_only=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "build-windows: unknown option '$1' (--help lists them)" >&2; exit 2 ;;
    esac
    shift
done
case $jobs in ''|*[!0-9]*|0) echo "build-windows: --jobs wants a positive number, not '$jobs'" >&2; exit 2 ;; esac
mkdir -p "$out"
out=$(cd "$out" && pwd)
case $builddir in /*) ;; *) builddir=$PWD/$builddir ;; esac

started=$(date +%s)
elapsed() { local s=$(( $(date +%s) - $1 )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

HOST=x86_64-w64-mingw32
case $(uname -s) in
    MINGW*|MSYS*) # an MSYS2 shell: its gcc makes Windows programs natively
        native=1; CC=gcc; CXX=g++; TOOL_PREFIX= ;;
    *)  native=0; CC=$HOST-gcc-posix; CXX=$HOST-g++-posix; TOOL_PREFIX=$HOST- ;;
esac
missing=""
for tool in "$CC" "$CXX" "${TOOL_PREFIX}strip" nasm yasm cmake meson ninja pkg-config \
            autoreconf libtoolize make zip xz git sha256sum; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
    echo "build-windows: missing:$missing; run scripts/install-deps.sh --windows" >&2
    exit 2
fi

deps=$root/windows/deps.txt
recipes=$root/windows/libs.sh
tp=${PVS_THIRD_PARTY-}
if [ -z "$tp" ] && [ -d "$root/../shared/third-party" ]; then
    tp=$(cd "$root/../shared/third-party" && pwd)
fi
if [ -n "$tp" ] && [ ! -d "$tp" ]; then
    echo "build-windows: PVS_THIRD_PARTY=$tp is not a directory" >&2
    exit 2
fi

# The prefix is keyed by what decides its contents: the pinned sources, the
# recipes and the compiler. Packaging changes in this script do not rebuild it.
key=$( { cat "$deps" "$recipes"; "$CC" --version | head -n 1; } | sha256sum | cut -c1-16)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/pvstream
P=$cache/win64-$key
logs=$P/logs
mkdir -p "$P/lib/pkgconfig" "$P/include" "$logs"

TOOLCHAIN=
[ "$native" -eq 1 ] || TOOLCHAIN=$P/toolchain.cmake
[ "$native" -eq 1 ] || cat > "$TOOLCHAIN" <<EOF
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER $CC)
set(CMAKE_CXX_COMPILER $CXX)
set(CMAKE_RC_COMPILER $HOST-windres)
set(CMAKE_FIND_ROOT_PATH /usr/$HOST $P)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
EOF
# The cross file pvstream and the meson-built libraries use: the fixed part
# is windows/mingw-w64.txt, this one adds the prefix.
CROSS=$P/prefix.txt
cat > "$CROSS" <<EOF
[properties]
pkg_config_libdir = ['$P/lib/pkgconfig']
EOF
export PKG_CONFIG_LIBDIR=$P/lib/pkgconfig PKG_CONFIG_PATH=
CROSS_FILES=
[ "$native" -eq 1 ] || CROSS_FILES="$root/windows/mingw-w64.txt $CROSS"
export P HOST CC CXX TOOL_PREFIX JOBS=$jobs TOOLCHAIN CROSS_FILES

# ---- sources --------------------------------------------------------------
# unpack NAME VERSION SHA COMMIT REPO DIR: the source tree in DIR/NAME-VERSION
unpack() {
    local name=$1 version=$2 sha=$3 commit=$4 repo=$5 dir=$6
    local archive=$tp/$name-$version.tar.xz
    if [ -n "$tp" ]; then
        [ -f "$archive" ] || { echo "build-windows: $archive is missing" >&2; return 1; }
        local got
        got=$(sha256sum "$archive" | cut -d' ' -f1)
        if [ "$got" != "$sha" ]; then
            echo "build-windows: $archive has SHA-256 $got, windows/deps.txt pins $sha" >&2
            return 1
        fi
        tar -xJf "$archive" -C "$dir"
    else
        local src=$dir/$name-$version
        git init -q "$src"
        git -C "$src" fetch -q --depth 1 "$repo" "$commit"
        git -C "$src" checkout -q FETCH_HEAD
        [ "$(git -C "$src" rev-parse HEAD)" = "$commit" ] ||
            { echo "build-windows: $repo did not give commit $commit" >&2; return 1; }
        git -C "$src" submodule -q update --init --depth 1
    fi
}

# ---- libraries ------------------------------------------------------------
if [ ! -f "$P/.complete" ]; then
    echo "build-windows: libraries into $P (logs in $logs)"
    work=$(mktemp -d "$cache/work.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    while read -r name version sha commit _licence repo; do
        case $name in ''|'#'*) continue ;; esac
        if [ -f "$P/.done-$name" ]; then
            echo "  $name $version: built earlier"
            continue
        fi
        t0=$(date +%s)
        mkdir -p "$work/$name/build"
        unpack "$name" "$version" "$sha" "$commit" "$repo" "$work/$name"
        if ! (cd "$work/$name/build" && bash -ec '. "$1"; "build_$2" "$3"' \
                recipe "$recipes" "$name" "$work/$name/$name-$version") </dev/null >"$logs/$name.log" 2>&1; then
            echo "build-windows: $name $version failed; the end of $logs/$name.log:" >&2
            tail -n 30 "$logs/$name.log" >&2
            exit 1
        fi
        rm -rf "${work:?}/$name"
        touch "$P/.done-$name"
        echo "  $name $version: $(elapsed "$t0")"
    done < "$deps"
    touch "$P/.complete"
else
    echo "build-windows: libraries cached in $P"
fi
[ "$libs_only" -eq 1 ] && { echo "build-windows: libraries done in $(elapsed "$started")"; exit 0; }

# ---- pvstream ---------------------------------------------------------------
t0=$(date +%s)
if [ ! -f "$builddir/build.ninja" ] || ! grep -qF "$P/" "$builddir/prefix.txt" 2>/dev/null; then
    rm -rf "$builddir"
    mkdir -p "$builddir"
    echo "$P/" > "$builddir/prefix.txt"
    setup=(--werror -Dprefer_static=true -Dswscale=disabled)
    if [ "$native" -eq 0 ]; then
        # The prefix, and Wine to run the tests (meson test -C build-win).
        cat > "$builddir/cross-local.txt" <<EOF
[binaries]
exe_wrapper = '$root/windows/wine-run.sh'

[properties]
pkg_config_libdir = ['$P/lib/pkgconfig']
EOF
        setup+=(--cross-file "$root/windows/mingw-w64.txt" --cross-file "$builddir/cross-local.txt")
    fi
    meson setup "$builddir" "$root" "${setup[@]}" >"$logs/pvstream-setup.log" 2>&1 ||
        { tail -n 40 "$logs/pvstream-setup.log" >&2; exit 1; }
fi
ninja -C "$builddir" -j "$jobs" >"$logs/pvstream.log" 2>&1 ||
    { grep -E 'error|FAILED' "$logs/pvstream.log" | head -n 40 >&2; exit 1; }
echo "  pvstream: $(elapsed "$t0")"

# ---- the zip ----------------------------------------------------------------
version=$(sed -n "s/^ *version: '\([^']*\)'.*/\1/p" "$root/meson.build" | head -n 1)
name=pvstream-$version-windows-x64
stage=$builddir/$name
rm -rf "$stage"
mkdir -p "$stage/licences"
for prog in server/pvstream-server client/pvstream-client bench/pvstream-bench host/pvstream-host; do
    "${TOOL_PREFIX}strip" -o "$stage/$(basename "$prog").exe" "$builddir/$prog.exe"
done
cp "$root/server/pvstream-server.ini" "$stage/"
cp "$root/windows/README-windows.txt" "$stage/"
cp "$root/LICENSE" "$stage/licences/pvstream-LICENSE.txt"
# Each library's licence, from the archive itself (a header's leading
# comment where the project has no licence file).
lic=$(mktemp -d)
while read -r dname dversion dsha dcommit dlicence drepo; do
    case $dname in ''|'#'*) continue ;; esac
    if [ "$dlicence" = - ]; then
        echo "$dname $dversion ($drepo, $dcommit): MIT; the licence is in each header" \
            > "$stage/licences/$dname.txt"
        continue
    fi
    if [ -n "$tp" ]; then
        tar -xJf "$tp/$dname-$dversion.tar.xz" -C "$lic" "$dname-$dversion/$dlicence"
    else
        mkdir -p "$lic/$dname-$dversion"
        git archive --remote="$drepo" "$dcommit" "$dlicence" 2>/dev/null | tar -x -C "$lic/$dname-$dversion" ||
            echo "see $drepo at $dcommit" > "$lic/$dname-$dversion/$dlicence"
    fi
    { echo "$dname $dversion, $drepo at $dcommit"; echo; cat "$lic/$dname-$dversion/$dlicence"; } \
        > "$stage/licences/$dname.txt"
done < "$deps"
rm -rf "$lic"
zip="$out/$name.zip"
rm -f "$zip"
(cd "$builddir" && zip -qr9 "$zip" "$name")
echo "build-windows: $zip ($(du -k "$zip" | cut -f1) KiB) in $(elapsed "$started")"
