#!/usr/bin/env bash
# Installs ringbuf into a prefix: the program behind `bazel run //:install`.
#
#   ./bazelw run //:install -- --prefix=DIR [--deb=FILE.deb]
#
# DIR (made if missing; relative to where bazel was run) receives:
#   include/ringbuf/{queue,options,notifier,version,c_api}.h  the public API
#   lib/libringbuf.so.X.Y.Z, .so.X, .so        C++ library, SONAME libringbuf.so.X
#   lib/libringbuf_c.so.X.Y.Z, .so.X, .so      C API, exports only ringbuf_*
#   bin/ringbufctl                             the CLI (ringbuf linked in)
#   lib/pkgconfig/ringbuf.pc, ringbuf-c.pc
#   lib/cmake/ringbuf/ringbufConfig.cmake, ringbufConfigVersion.cmake
#   share/doc/ringbuf/{LICENSE,README.md,CHANGELOG.md}
# where X.Y.Z is VERSION. Existing files are replaced; nothing else is
# touched. The libraries need Debian's Abseil at run time (libabsl20220623,
# which libabsl-dev pulls in); consumers find lib/ through pkg-config, CMake
# or their own rpath (see README, "Use it from your project").
#
# --deb=FILE also packs the same tree, with prefix /usr, into a Debian
# package (dpkg-deb) named ringbuf, depending on libabsl20220623.
set -euo pipefail

prefix=""
deb=""
for arg in "$@"; do
  case "$arg" in
    --prefix=*) prefix=${arg#--prefix=} ;;
    --deb=*) deb=${arg#--deb=} ;;
    *) echo "usage: bazel run //:install -- --prefix=DIR [--deb=FILE.deb]" >&2
       exit 2 ;;
  esac
done
if [[ -z $prefix && -z $deb ]]; then
  echo "install: --prefix=DIR (or --deb=FILE.deb) is required" >&2
  exit 2
fi

# `bazel run` starts us in the runfiles tree; relative paths are the user's.
here=${BUILD_WORKING_DIRECTORY:-$PWD}
absolute() { [[ $1 == /* ]] && echo "$1" || echo "$here/$1"; }

runfiles=${RUNFILES_DIR:-$0.runfiles}
src="$runfiles/ringbuf"
[[ -f $src/VERSION ]] || { echo "install: cannot find VERSION in $src" >&2; exit 1; }
version=$(tr -d '[:space:]' < "$src/VERSION")
major=${version%%.*}

# The SONAMEs are written in ringbuf/BUILD.bazel; they must carry VERSION's
# major number, or programs would bind to the wrong ABI.
check_soname() {
  local file=$1 want=$2 got
  got=$(objdump -p "$file" | awk '$1 == "SONAME" { print $2 }')
  if [[ $got != "$want" ]]; then
    echo "install: $file has SONAME '$got', VERSION $version wants '$want'" \
         "(update ringbuf/BUILD.bazel)" >&2
    exit 1
  fi
}
check_soname "$src/ringbuf/libringbuf.so.1" "libringbuf.so.$major"
check_soname "$src/ringbuf/libringbuf_c.so" "libringbuf_c.so.$major"

# install_tree DIR PC_PREFIX: writes the tree into DIR, with PC_PREFIX as the
# prefix recorded in the pkg-config files.
install_tree() {
  local dest=$1 pc_prefix=$2 lib name header
  install -d "$dest/include/ringbuf" "$dest/lib/pkgconfig" \
    "$dest/lib/cmake/ringbuf" "$dest/bin" "$dest/share/doc/ringbuf"
  for header in "$src"/ringbuf/*.h; do
    install -m 0644 "$header" "$dest/include/ringbuf/"
  done
  for lib in "libringbuf:ringbuf/libringbuf.so.1" \
             "libringbuf_c:ringbuf/libringbuf_c.so"; do
    name=${lib%%:*}
    install -m 0755 "$src/${lib#*:}" "$dest/lib/$name.so.$version"
    ln -sfn "$name.so.$version" "$dest/lib/$name.so.$major"
    ln -sfn "$name.so.$major" "$dest/lib/$name.so"
  done
  install -m 0755 "$src/ringbuf/ringbufctl" "$dest/bin/ringbufctl"
  local subst=(-e "s|@PREFIX@|$pc_prefix|g" -e "s|@VERSION@|$version|g"
               -e "s|@MAJOR@|$major|g")
  sed "${subst[@]}" "$src/packaging/ringbuf.pc.in" > "$dest/lib/pkgconfig/ringbuf.pc"
  sed "${subst[@]}" "$src/packaging/ringbuf-c.pc.in" > "$dest/lib/pkgconfig/ringbuf-c.pc"
  sed "${subst[@]}" "$src/packaging/ringbufConfig.cmake.in" \
    > "$dest/lib/cmake/ringbuf/ringbufConfig.cmake"
  sed "${subst[@]}" "$src/packaging/ringbufConfigVersion.cmake.in" \
    > "$dest/lib/cmake/ringbuf/ringbufConfigVersion.cmake"
  chmod 0644 "$dest"/lib/pkgconfig/*.pc "$dest"/lib/cmake/ringbuf/*.cmake
  install -m 0644 "$src/LICENSE" "$src/README.md" "$src/CHANGELOG.md" \
    "$dest/share/doc/ringbuf/"
}

if [[ -n $prefix ]]; then
  prefix=$(absolute "$prefix")
  install_tree "$prefix" "$prefix"
  echo "install: ringbuf $version installed into $prefix"
fi

if [[ -n $deb ]]; then
  deb=$(absolute "$deb")
  stage=$(mktemp -d)
  chmod 0755 "$stage"
  trap 'rm -rf "$stage"' EXIT
  install_tree "$stage/usr" /usr
  arch=$(dpkg --print-architecture)
  install -d "$stage/DEBIAN"
  cat > "$stage/DEBIAN/control" <<CONTROL
Package: ringbuf
Version: $version
Architecture: $arch
Maintainer: ringbuf maintainers <ringbuf@localhost>
Depends: libabsl20220623, libc6, libstdc++6
Recommends: libabsl-dev
Section: libs
Priority: optional
Description: message queue over POSIX shared memory
 Bounded multi-producer multi-consumer message queue in one named POSIX
 shared-memory object, crash-safe, with C++17 and C APIs, headers,
 pkg-config and CMake files, and the ringbufctl CLI.
CONTROL
  dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
  echo "install: wrote $deb"
fi
