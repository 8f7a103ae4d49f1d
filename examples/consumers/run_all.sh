#!/usr/bin/env bash
# Checks an installed ringbuf tree, then builds and runs every consumer
# against it, as a project outside this repository would:
#
#   ./bazelw run //:install -- --prefix=/tmp/rb
#   examples/consumers/run_all.sh /tmp/rb
#
#   cmake/       find_package(ringbuf): ringbuf::ringbuf, ringbuf::c
#                (CMAKE_PREFIX_PATH)
#   pkg-config/  a Makefile using `pkg-config ringbuf`      (PKG_CONFIG_PATH)
#   c/           a C99 program knowing only `pkg-config ringbuf-c`
#   bazel/       a separate Bazel workspace taking this repository with
#                local_repository and one ringbuf_dependencies() call (it
#                builds ringbuf from source, not from PREFIX)
#
# Each consumer is a two-process round trip (round_trip.cc, c/round_trip.c)
# that exits non-zero on any failure; so does this script, and so it does if
# the README's "Use it from your project" snippets differ from these files. Builds go to a
# temporary directory; the source tree is left as it was (but for bazel/'s
# convenience symlinks, which .gitignore covers). Needs cmake, make,
# pkg-config and a C/C++ compiler (.ci/run installs them).
set -euo pipefail

if (($# != 1)); then
  echo "usage: $0 PREFIX" >&2
  exit 2
fi
prefix=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
step() { echo "run_all: ---- $*"; }
fail() { echo "run_all: FAILED: $*" >&2; exit 1; }

step "README's snippets are these files"
# Each `<!-- snippet: PATH -->` in the README is followed by a fenced block
# that must be PATH's whole content, so what the README shows is what runs.
quoted=0
while read -r path; do
  awk -v want="$path" '
    $0 == "<!-- snippet: " want " -->" { armed = 1; next }
    armed == 1 && /^```/ { armed = 2; next }
    armed == 2 && /^```$/ { exit }
    armed == 2 { print }
  ' "$repo/README.md" | cmp -s - "$repo/$path" ||
    fail "README's snippet of $path differs from the file"
  quoted=$((quoted + 1))
done < <(sed -n 's/^<!-- snippet: \(.*\) -->$/\1/p' "$repo/README.md")
for consumer in bazel cmake pkg-config c; do
  grep -q "^<!-- snippet: examples/consumers/$consumer/" "$repo/README.md" ||
    fail "README quotes nothing of examples/consumers/$consumer"
done
echo "run_all: $quoted snippets match"

step "installed tree in $prefix"
version=$(tr -d '[:space:]' < "$repo/VERSION")
major=${version%%.*}
for lib in libringbuf libringbuf_c; do
  [[ $(readlink "$prefix/lib/$lib.so") == "$lib.so.$major" &&
     $(readlink "$prefix/lib/$lib.so.$major") == "$lib.so.$version" ]] ||
    fail "$lib.so -> .so.$major -> .so.$version symlinks"
  soname=$(objdump -p "$prefix/lib/$lib.so.$version" | awk '$1 == "SONAME" { print $2 }')
  [[ $soname == "$lib.so.$major" ]] || fail "$lib SONAME is '$soname'"
done
# The C library exports the C API and nothing else, and links only the few
# Abseil libraries it uses.
exported=$(nm -D --defined-only "$prefix/lib/libringbuf_c.so.$version" |
           awk '$3 != "" { print $3 }' | sed 's/@.*//' | sort -u)
others=$(grep -v '^ringbuf_' <<< "$exported" || true)
[[ -z $others ]] || fail "libringbuf_c exports more than ringbuf_*: $others"
absl_needed=$(objdump -p "$prefix/lib/libringbuf_c.so.$version" | grep -c 'NEEDED.*libabsl_' || true)
((absl_needed <= 8)) || fail "libringbuf_c needs $absl_needed Abseil libraries"
# Only the public headers, and they include nothing internal.
headers=$(cd "$prefix/include/ringbuf" && ls)
[[ $headers == $'c_api.h\nnotifier.h\noptions.h\nqueue.h\ntrust.h\nversion.h' ]] ||
  fail "include/ringbuf holds: $headers"
! grep -l '#[[:space:]]*include.*internal/' "$prefix"/include/ringbuf/*.h | grep -q . ||
  fail "an installed header includes an internal/ one"
queue="ringbuf-run-all-$$"
"$prefix/bin/ringbufctl" create "$queue" --capacity=4 --slot_size=32
"$prefix/bin/ringbufctl" send "$queue" hello >/dev/null
[[ $("$prefix/bin/ringbufctl" recv "$queue" --count=1 --timeout=10s) == hello ]] ||
  fail "bin/ringbufctl round trip"
"$prefix/bin/ringbufctl" rm "$queue"
echo "run_all: $(wc -w <<< "$exported") ringbuf_* symbols exported," \
     "$absl_needed Abseil libraries needed; bin/ringbufctl works"

step "cmake"
cmake -S "$here/cmake" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake"
"$work/cmake/round_trip"
"$work/cmake/round_trip_c"

step "pkg-config"
mkdir "$work/pkg-config"
make -C "$work/pkg-config" -f "$here/pkg-config/Makefile" VPATH="$here/pkg-config"
"$work/pkg-config/round_trip"

step "c (pkg-config ringbuf-c only)"
mkdir "$work/c"
make -C "$work/c" -f "$here/c/Makefile" VPATH="$here/c"
"$work/c/round_trip"

step "bazel (local_repository + ringbuf_dependencies())"
# A workspace of its own: its own Bazel server, stopped afterwards.
(cd "$here/bazel" && "$repo/bazelw" run //:round_trip &&
   "$repo/bazelw" shutdown)

echo "run_all: every consumer built and ran against ringbuf $version"
