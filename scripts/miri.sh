#!/usr/bin/env bash
# Miri (undefined-behaviour checker) on the index code that reads file bytes:
# core/tests/mapped_bytes.rs (parsing, slot decoding, lookups, filter, deltas, swaps).
# Needs a nightly toolchain with the miri component; installs it with rustup if it can.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo +nightly miri --version >/dev/null 2>&1; then
    echo "== installing nightly with miri"
    if ! timeout 900 rustup toolchain install nightly --profile minimal --component miri,rust-src; then
        echo "miri: NOT RUN - no nightly toolchain with miri can be installed on this machine" >&2
        exit 0
    fi
fi
MIRIFLAGS="-Zmiri-disable-isolation" cargo +nightly miri test -p idcard --test mapped_bytes
