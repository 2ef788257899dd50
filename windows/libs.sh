# How each library of the Windows build is cross-compiled into one static
# prefix. Sourced by scripts/build-windows.sh, which calls build_NAME SRC for
# each line of windows/deps.txt, in that order, with the current directory
# a scratch build directory and these set:
#   P       the prefix (include/, lib/, lib/pkgconfig/)
#   HOST    x86_64-w64-mingw32
#   CC CXX  the posix-threads mingw-w64 compilers (libstdc++'s std::thread
#           needs them; the whole build uses one thread model); in an MSYS2
#           shell its own gcc and g++
#   TOOL_PREFIX  "x86_64-w64-mingw32-" for binutils when cross-compiling,
#           empty in an MSYS2 shell
#   JOBS    parallel jobs
#   TOOLCHAIN  a CMake toolchain file (empty in an MSYS2 shell)
#   CROSS_FILES  meson's cross files: windows/mingw-w64.txt and the prefix's
#           (empty in an MSYS2 shell, where PKG_CONFIG_LIBDIR finds the prefix)
# Each recipe runs in its own `bash -e`: the first failing command stops it.
# This file and deps.txt key the cache: changing a recipe rebuilds the
# libraries, changing the packaging in build-windows.sh does not.

cmake_configure() { # SRC [cmake options...]
    local src=$1; shift
    cmake -S "$src" -B cmake-build -G Ninja ${TOOLCHAIN:+-DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN"} \
        -DCMAKE_INSTALL_PREFIX="$P" -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_SHARED_LIBS=OFF "$@"
}

cmake_build() { # SRC [cmake options...]
    cmake_configure "$@"
    cmake --build cmake-build -j "$JOBS"
}

meson_build() { # SRC [meson options...]
    local src=$1; shift
    local f cross=()
    for f in $CROSS_FILES; do cross+=(--cross-file "$f"); done
    meson setup meson-build "$src" "${cross[@]}" --prefix "$P" \
        --libdir lib --buildtype release --default-library static "$@"
    ninja -C meson-build -j "$JOBS" install
}

write_pc() { # NAME VERSION LIBS [CFLAGS]
    cat > "$P/lib/pkgconfig/$1.pc" <<EOF
prefix=$P
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: $1
Description: $1 (pvstream's Windows build)
Version: $2
Libs: -L\${libdir} $3
Cflags: -I\${includedir} ${4:-}
EOF
}

build_nv-codec-headers() {
    make -C "$1" PREFIX="$P" install
}

build_AMF-headers() {
    # FFmpeg looks for <AMF/core/Factory.h>.
    mkdir -p "$P/include/AMF"
    cp -r "$1/amf/public/include/." "$P/include/AMF/"
}

build_libvpl() {
    # The dispatcher and its headers: it finds Intel's runtime when an
    # encoder opens.
    cmake_build "$1" -DBUILD_TOOLS=OFF -DBUILD_EXAMPLES=OFF -DBUILD_TESTS=OFF \
        -DINSTALL_EXAMPLE_CODE=OFF
    cmake --install cmake-build
}

build_x264() {
    (cd "$1" && ./configure --host="$HOST" --cross-prefix="$TOOL_PREFIX" --prefix="$P" \
        --enable-static --disable-cli --disable-opencl --disable-avs --disable-swscale \
        --bit-depth=8 --disable-lavf --disable-ffms --disable-gpac --disable-lsmash \
        --extra-cflags="-O2" && make -j "$JOBS" && make install)
}

build_ffmpeg() {
    # What pvstream uses and no more: the encoders it names (the GPU ones
    # load their runtime when opened, so the programs start anywhere), the
    # decoders it decodes with, the hardware contexts of the D3D11 path.
    local enc=libx264
    enc+=,h264_nvenc,hevc_nvenc,av1_nvenc
    enc+=,h264_amf,hevc_amf,av1_amf
    enc+=,h264_qsv,hevc_qsv,av1_qsv
    enc+=,h264_mf,hevc_mf
    local hw=""
    for c in h264 hevc av1; do hw+=,${c}_d3d11va,${c}_d3d11va2,${c}_dxva2; done
    "$1/configure" --prefix="$P" --target-os=mingw32 --arch=x86_64 \
        --cross-prefix="$TOOL_PREFIX" --cc="$CC" --cxx="$CXX" \
        --pkg-config=pkg-config --pkg-config-flags=--static \
        --extra-cflags="-I$P/include" --extra-ldflags="-L$P/lib" \
        --enable-static --disable-shared --enable-gpl --disable-debug \
        --disable-programs --disable-doc --disable-network --disable-autodetect \
        --disable-everything --disable-avdevice --disable-avformat \
        --disable-avfilter --disable-postproc --disable-swresample --disable-swscale \
        --enable-w32threads --enable-d3d11va --enable-dxva2 --enable-mediafoundation \
        --enable-ffnvcodec --enable-nvenc --enable-amf --enable-libvpl --enable-libx264 \
        --enable-encoder="$enc" --enable-decoder=h264,hevc,av1 \
        --enable-hwaccel="${hw#,}" --enable-parser=h264,hevc,av1 \
        --enable-bsf=av1_frame_split,av1_frame_merge,h264_mp4toannexb,hevc_mp4toannexb
    make -j "$JOBS"
    make install
}

build_opus() {
    # mingw-w64 has no libssp by default: no stack protector, no fortify.
    cmake_build "$1" -DOPUS_BUILD_PROGRAMS=OFF -DOPUS_BUILD_TESTING=OFF \
        -DOPUS_STACK_PROTECTOR=OFF -DOPUS_FORTIFY_SOURCE=OFF \
        -DOPUS_INSTALL_PKG_CONFIG_MODULE=ON
    cmake --install cmake-build
}

build_mbedtls() {
    cmake_build "$1" -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF \
        -DMBEDTLS_FATAL_WARNINGS=OFF -DUSE_SHARED_MBEDTLS_LIBRARY=OFF \
        -DUSE_STATIC_MBEDTLS_LIBRARY=ON
    cmake --install cmake-build
    # Its random source is BCryptGenRandom; the .pc file does not say so.
    sed -i '/^Libs:/s/ -lmbedcrypto$/ -lmbedcrypto -lbcrypt/' "$P/lib/pkgconfig/mbedcrypto.pc"
}

build_libsrtp() {
    # libsrtp's own crypto has no AES-GCM: Mbed TLS gives AEAD_AES_128_GCM.
    meson_build "$1" -Dcrypto-library=mbedtls -Dcrypto-library-kdf=disabled \
        -Dtests=disabled -Ddoc=disabled -Dpcap-tests=disabled -Dwerror=false
}

build_enet() {
    # ENet's CMake file builds but installs nothing: seven files, compiled here.
    local f objs=()
    for f in callbacks compress host list packet peer protocol win32; do
        "$CC" -O2 -I"$1/include" -c "$1/$f.c" -o "$f.o"
        objs+=("$f.o")
    done
    "${TOOL_PREFIX}ar" rcs "$P/lib/libenet.a" "${objs[@]}"
    cp -r "$1/include/enet" "$P/include/"
    write_pc libenet 1.3.18 "-lenet -lws2_32 -lwinmm"
}

build_libsodium() {
    (cd "$1" && ./configure --host="$HOST" --prefix="$P" --disable-shared \
        --enable-static --disable-ssp --disable-dependency-tracking \
        CC="$CC" && make -j "$JOBS" && make install)
    # A static libsodium on Windows must be declared so to its header, or
    # every symbol is taken as a DLL import.
    sed -i 's|^Cflags: \(.*\)|Cflags: \1 -DSODIUM_STATIC|' "$P/lib/pkgconfig/libsodium.pc"
}

build_SDL2() {
    cmake_build "$1" -DSDL_SHARED=OFF -DSDL_STATIC=ON -DSDL_TEST=OFF \
        -DSDL_TESTS=OFF
    cmake --install cmake-build
    # pvstream's programs are console programs with their own main():
    # no SDL2main, no -mwindows, no main renamed to SDL_main.
    sed -i -e '/^Libs/s/ -lmingw32\| -lSDL2main\| -mwindows//g' \
        -e 's/ -Dmain=SDL_main/ -DSDL_MAIN_HANDLED/' "$P/lib/pkgconfig/sdl2.pc"
}

build_isa-l() {
    # The library only: the igzip program's man page rule fails for mingw.
    (cd "$1" && ./autogen.sh && ./configure --host="$HOST" --prefix="$P" \
        --disable-shared --enable-static CC="$CC" &&
     make -j "$JOBS" isa-l.h libisal.la &&
     make install-libLTLIBRARIES install-pkgincludeHEADERS \
          install-nobase_includeHEADERS install-pkgconfigDATA)
}

build_inih() {
    meson_build "$1" -Dwith_INIReader=false -Ddistro_install=true
}

build_libyuv() {
    # Its CMake file installs a shared library and a tool too: the static
    # library and the headers are all pvstream needs.
    cmake_configure "$1" -DUNIT_TEST=OFF
    cmake --build cmake-build -j "$JOBS" --target yuv
    cp cmake-build/libyuv.a "$P/lib/"
    cp -r "$1/include/." "$P/include/"
    write_pc libyuv 1962 "-lyuv -lstdc++"
}
