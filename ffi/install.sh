#!/usr/bin/env bash
# Build the C library in release mode and install it:
#   ./ffi/install.sh --prefix DIR
# installs DIR/include/idcard.h, DIR/include/idcard.hpp, DIR/lib/libidcard.so (-> .so.ABI ->
# .so.VERSION, SONAME libidcard.so.ABI: the major version, or 0.MINOR before 1.0), DIR/lib/libidcard.a and DIR/lib/pkgconfig/idcard.pc, so
# that `cc app.c $(pkg-config --cflags --libs idcard)` works with PKG_CONFIG_PATH=DIR/lib/pkgconfig.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
prefix=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$prefix" ] || { echo "install.sh: --prefix DIR is required" >&2; exit 2; }
mkdir -p "$prefix"
prefix="$(cd "$prefix" && pwd)"

version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
major="${version%%.*}"
minor="${version#*.}"; minor="${minor%%.*}"
# The ABI version in the SONAME (ffi/build.rs): MAJOR, or 0.MINOR before 1.0.
if [ "$major" = 0 ]; then abi="0.$minor"; else abi="$major"; fi
target_dir="${CARGO_TARGET_DIR:-$root/target}"

(cd "$root" && cargo build --release --locked -p idcard-ffi)

mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
install -m 644 "$here/include/idcard.h" "$here/include/idcard.hpp" "$prefix/include/"
install -m 755 "$target_dir/release/libidcard.so" "$prefix/lib/libidcard.so.$version"
ln -sf "libidcard.so.$version" "$prefix/lib/libidcard.so.$abi"
ln -sf "libidcard.so.$abi" "$prefix/lib/libidcard.so"
install -m 644 "$target_dir/release/libidcard.a" "$prefix/lib/libidcard.a"
cat > "$prefix/lib/pkgconfig/idcard.pc" <<PC
prefix=$prefix
includedir=\${prefix}/include
libdir=\${prefix}/lib

Name: idcard
Description: Resident identity card verification (is this card reported lost?)
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lidcard
Libs.private: -lpthread -ldl -lm
PC
echo "installed idcard $version into $prefix"
