#!/usr/bin/env bash
# Runs every test of the project: the README's test command.
# Works on a fresh machine with the Rust toolchain; installs what else it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

# The NATS JetStream test starts Debian's nats-server on a loopback port of its own.
if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
  echo "== installing nats-server"
  apt-get install -y -qq nats-server >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq nats-server >/dev/null)
fi

echo "== Rust: unit, integration, property and doc tests (whole workspace)"
cargo test --workspace --locked

echo "== The record's suites again on the PostgreSQL store (a throwaway cluster on a Unix socket)"
# Every requirement suite, the property test (2,000 sequences here; 10,000 above), the crash test
# (SIGKILL of the engine's process) and `idcard serve --postgres` killed under load. fsync off:
# the tests kill the client, never the server, so it changes nothing they check.
PG_FSYNC=off IDCARD_PROPTEST_CASES=2000 ./scripts/with-postgres.sh bash -c '
  cargo test --locked -p idcard \
    --test record --test offsite --test counter --test authentication --test trust \
    --test tamper --test crash --test record_format --test corruption --test postgres &&
  cargo test --locked -p idcard-cli --test serve &&
  cargo test --locked -p idcard-server --test platform'

echo "== Rust: the index again without AVX2 (the scalar lookup paths)"
IDCARD_NO_AVX2=1 cargo test --locked -p idcard --test index

echo "== C library, C++ header and cxx bridge (ASan/UBSan, valgrind)"
./tests/c/run.sh

echo "== Python package: build, stub check (mypy stubtest), pytest"
python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check numpy pandas pytest mypy
.venv/bin/pip install -q --disable-pip-version-check ./bindings/python
data="$(mktemp -d)"
trap 'rm -rf "$data"' EXIT
cargo run --release --locked -q -p idcard-ffi --example make_test_data -- "$data" >/dev/null
cargo build --locked -q -p idcard-cli
(cd "$data" && "$OLDPWD/.venv/bin/python" -m mypy.stubtest idcard)
IDCARD_TEST_DATA="$data" IDCARD_CLI="${CARGO_TARGET_DIR:-$PWD/target}/debug/idcard" .venv/bin/python -m pytest -q bindings/python/tests

echo "== Miri on the index's byte-reading code"
./scripts/miri.sh

echo "== Fuzzing: a bounded run of every target (scripts/fuzz.sh: FUZZ_SECONDS, default 60, per target)"
./scripts/fuzz.sh
