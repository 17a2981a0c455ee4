#!/usr/bin/env bash
# Runs every test of the project: the README's test command.
# Works on a fresh machine with the Rust toolchain; installs what else it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust: unit, integration, property and doc tests (whole workspace)"
cargo test --workspace --locked

echo "== Rust: the index again without AVX2 (the scalar lookup paths)"
IDCARD_NO_AVX2=1 cargo test --locked -p idcard --test index

echo "== C library, C++ header and cxx bridge (ASan/UBSan, valgrind)"
./tests/c/run.sh
