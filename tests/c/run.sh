#!/usr/bin/env bash
# The C library's suites (run by scripts/test-all.sh, the README's test command):
# - installs the library with ffi/install.sh into a temporary prefix;
# - builds tests/c/test_idcard.c with -Wall -Wextra -Werror against it through pkg-config and runs
#   it under ASan/UBSan, then (built without sanitizers) under valgrind;
# - builds tests/cpp/test_hpp.cpp (idcard.hpp, -std=c++17, with and without exceptions) and
#   examples/c/bank_check.c;
# - builds the cxx bridge and runs tests/cpp/bridge_test.cpp (a loss report driven from C++).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! command -v pkg-config >/dev/null 2>&1; then
  echo "== installing pkg-config"
  (apt-get install -y -qq pkg-config >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq pkg-config)) || true
fi
if ! command -v valgrind >/dev/null 2>&1; then
  echo "== installing valgrind"
  (apt-get install -y -qq valgrind >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq valgrind)) || true
fi

echo "== C library: install into a temporary prefix"
./ffi/install.sh --prefix "$work/prefix" >/dev/null
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
if command -v pkg-config >/dev/null 2>&1; then
  flags="$(pkg-config --cflags --libs idcard)"
else
  flags="-I$work/prefix/include -L$work/prefix/lib -Wl,-rpath,$work/prefix/lib -lidcard"
fi
cargo run --release --locked -q -p idcard-ffi --example make_test_data -- "$work/data" >/dev/null

# The SONAME carries the ABI version (ffi/build.rs): 0.MINOR before 1.0, since 0.1 and 0.2 differ.
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
abi=$(echo "$version" | awk -F. '{ if ($1 == 0) print "0." $2; else print $1 }')
soname=$(objdump -p "$work/prefix/lib/libidcard.so" | awk '/SONAME/ {print $2}')
if [ "$soname" != "libidcard.so.$abi" ]; then
  echo "SONAME is $soname, expected libidcard.so.$abi" >&2
  exit 1
fi
echo "== SONAME $soname"

echo "== C suite under ASan/UBSan"
cc -std=c11 -Wall -Wextra -Werror -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -pthread \
  tests/c/test_idcard.c $flags -o "$work/test_asan"
ASAN_OPTIONS=detect_leaks=1 "$work/test_asan" "$work/data" 2> "$work/asan.log" || { cat "$work/asan.log"; exit 1; }
if grep -q "ERROR: \(Address\|Leak\)Sanitizer\|runtime error:" "$work/asan.log"; then cat "$work/asan.log"; exit 1; fi

if command -v valgrind >/dev/null 2>&1; then
  echo "== C suite under valgrind"
  cc -std=c11 -Wall -Wextra -Werror -g -pthread tests/c/test_idcard.c $flags -o "$work/test_plain"
  valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    "$work/test_plain" "$work/data" 2> "$work/valgrind.log" || { cat "$work/valgrind.log"; exit 1; }
else
  echo "valgrind is not available: the valgrind run is skipped" >&2
  exit 1
fi

echo "== C++ header"
c++ -std=c++17 -Wall -Wextra -Werror -fsanitize=address,undefined tests/cpp/test_hpp.cpp $flags -o "$work/test_hpp"
"$work/test_hpp" "$work/data" 2> /dev/null
c++ -std=c++17 -Wall -Wextra -Werror -fno-exceptions tests/cpp/test_hpp.cpp $flags -o "$work/test_hpp_noexc"
"$work/test_hpp_noexc" "$work/data" 2> /dev/null

echo "== examples/c/bank_check.c"
cc -std=c11 -Wall -Wextra -Werror examples/c/bank_check.c $flags -o "$work/bank_check"
first=$(head -1 "$work/data/cards.txt")
out=$("$work/bank_check" "$work/data/platform.trust" "$work/data/bank.idcs" ${first% *} || true)
echo "$out"
case "$out" in LOST*) ;; *) echo "bank_check: unexpected answer" >&2; exit 1 ;; esac

echo "== README \"Run the platform\": a loss report over HTTP answered LOST by the subscribed C verifier"
if ! command -v curl >/dev/null 2>&1; then
  (apt-get install -y -qq curl >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq curl)) || true
fi
cargo build --locked -q -p idcard-cli
cc -std=c11 -Wall -Wextra -Werror examples/c/report_hit.c $flags -o "$work/report_hit"
mkdir -p "$work/platform/bin"
ln -s "$work/bank_check" "$work/platform/bin/bank_check"
ln -s "$work/report_hit" "$work/platform/bin/report_hit"
ln -s "${CARGO_TARGET_DIR:-$root/target}/debug/idcard" "$work/platform/bin/idcard"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
awk '/<!-- platform:begin -->/{grab=1; next} /<!-- platform:end -->/{grab=0} grab && !/^```/' README.md \
  | sed "s/127.0.0.1:8443/127.0.0.1:$port/g" > "$work/platform/run.sh"
out=$(cd "$work/platform" && PATH="$work/platform/bin:$PATH" timeout 120 bash -e run.sh 2>&1) || { echo "$out"; exit 1; }
echo "$out" | tail -8
echo "$out" | grep -q "^valid: the card may be accepted" || { echo "$out"; echo "platform: the card was not valid before the report" >&2; exit 1; }
echo "$out" | grep -q "^LOST: refuse the card" || { echo "$out"; echo "platform: the C verifier did not answer LOST" >&2; exit 1; }
echo "$out" | grep -q '"ok":true,"output":{"id":' || { echo "$out"; echo "platform: the C library's hit report was not accepted" >&2; exit 1; }
echo "$out" | grep -q '"statuses":\["lost"\]' || { echo "$out"; echo "platform: online verification did not answer lost" >&2; exit 1; }
echo "$out" | grep -q '"status":"lost"' || { echo "$out"; echo "platform: the citizen's query did not answer lost" >&2; exit 1; }

echo "== cxx bridge for the national platform"
cargo build --release --locked -q -p idcard-cxx
target_dir="${CARGO_TARGET_DIR:-$root/target}"
mkdir -p "$work/inc"
ln -s "$root/ffi/cxx" "$work/inc/idcard-cxx"
c++ -std=c++17 -Wall -Wextra -Werror -I "$target_dir/cxxbridge" -I "$work/inc" tests/cpp/bridge_test.cpp \
  "$target_dir/release/libidcard_cxx.a" -lpthread -ldl -lm -o "$work/bridge_test"
"$work/bridge_test" "$work/bridge-data"
