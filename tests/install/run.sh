#!/usr/bin/env bash
# The installed library as its users see it: `make install` into a temporary prefix (and a DESTDIR
# staging of it), then tests/install/app.c built three ways (pkg-config shared, pkg-config --static,
# CMake find_package with both imported targets, plus the C++ wrapper), each run; the soname, the
# links and the .pc are checked; `make uninstall` must leave no file behind.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/install
work=$(mktemp -d "${TMPDIR:-/tmp}/negsync-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail() { echo "install-test: FAIL: $*" >&2; exit 1; }
say() { echo "== install-test: $*"; }

for tool in pkg-config cmake readelf; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (.ci/run installs it)"
done
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
major=${version%%.*}

make --no-print-directory -s install PREFIX="$prefix" >/dev/null
lib=$prefix/lib
[ -f "$lib/libnegsync.so.$version" ] || fail "libnegsync.so.$version not installed"
[ "$(readlink "$lib/libnegsync.so.$major")" = "libnegsync.so.$version" ] || fail "libnegsync.so.$major link"
[ "$(readlink "$lib/libnegsync.so")" = "libnegsync.so.$major" ] || fail "libnegsync.so link"
soname=$(readelf -d "$lib/libnegsync.so.$version" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libnegsync.so.$major" ] || fail "soname is '$soname', expected libnegsync.so.$major"
say "installed $version, soname $soname"

export PKG_CONFIG_PATH=$lib/pkgconfig
[ "$(pkg-config --modversion negsync)" = "$version" ] || fail "pkg-config --modversion"
pkg-config --print-errors --validate negsync

# 1. pkg-config, shared: the program records the soname, and runs against the installed library.
cc -std=c99 -Wall -Wextra -Wpedantic -Werror $here/app.c $(pkg-config --cflags --libs negsync) \
  -Wl,-rpath,"$lib" -o "$work/app_shared"
readelf -d "$work/app_shared" | grep -q "Shared library: \[libnegsync.so.$major\]" ||
  fail "app_shared does not need libnegsync.so.$major"
say "pkg-config shared: $("$work/app_shared")"

# 2. pkg-config --static: Libs.private brings what the Rust standard library needs. -lnegsync
#    would pick the .so beside the .a, so the archive is named (what README tells users too).
static_libs=$(pkg-config --static --libs negsync)
cc -std=c99 -Wall -Wextra -Wpedantic -Werror $here/app.c $(pkg-config --cflags negsync) \
  ${static_libs/-lnegsync/-l:libnegsync.a} -o "$work/app_static"
if readelf -d "$work/app_static" | grep -q "libnegsync"; then fail "app_static needs libnegsync.so"; fi
say "pkg-config --static: $("$work/app_static")"

# 3. CMake: find_package(negsync CONFIG REQUIRED), both imported targets and the C++ wrapper.
cp $here/app.c $here/app.cpp $here/CMakeLists.txt "$work/"
cmake -S "$work" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" -DCMAKE_CXX_FLAGS="-Wall -Wextra -Wpedantic -Werror" >"$work/cmake.log" 2>&1 ||
  { cat "$work/cmake.log"; fail "cmake configure"; }
cmake --build "$work/build" >>"$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "cmake build"; }
say "CMake negsync::negsync: $("$work/build/app_shared")"
say "CMake negsync::negsync_static: $("$work/build/app_static")"
say "CMake C++ (negsync.hpp): $("$work/build/app_cpp")"
readelf -d "$work/build/app_shared" | grep -q "Shared library: \[libnegsync.so.$major\]" ||
  fail "CMake app_shared does not need libnegsync.so.$major"
if readelf -d "$work/build/app_static" | grep -q "libnegsync"; then fail "CMake app_static needs libnegsync.so"; fi

# 4. A version the package cannot satisfy must be refused.
mkdir -p "$work/toonew"
printf 'cmake_minimum_required(VERSION 3.16)\nproject(p NONE)\nfind_package(negsync %s CONFIG REQUIRED)\n' \
  "$((major + 1)).0" >"$work/toonew/CMakeLists.txt"
if cmake -S "$work/toonew" -B "$work/toonew/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null 2>&1; then
  fail "find_package(negsync $((major + 1)).0) accepted version $version"
fi

# 5. DESTDIR stages the same files under another root, with the prefix's paths inside them.
make --no-print-directory -s install PREFIX=/opt/negsync DESTDIR="$work/stage" >/dev/null
grep -q '^prefix=/opt/negsync$' "$work/stage/opt/negsync/lib/pkgconfig/negsync.pc" || fail "DESTDIR .pc prefix"
[ -f "$work/stage/opt/negsync/lib/cmake/negsync/negsyncConfig.cmake" ] || fail "DESTDIR CMake package"

# 6. uninstall removes every installed file.
make --no-print-directory -s uninstall PREFIX="$prefix" >/dev/null
make --no-print-directory -s uninstall PREFIX=/opt/negsync DESTDIR="$work/stage" >/dev/null
left=$(find "$prefix" "$work/stage" -type f -o -type l)
[ -z "$left" ] || fail "uninstall left: $left"
say "uninstall removed everything"
