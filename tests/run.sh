#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then runs them.
#   bash tests/run.sh
# 1. every Rust test in the workspace (unit, crash, tamper, CLI, proofs, test vectors);
# 2. the benchmarks still compile;
# 3. interoperability: Go's golang.org/x/mod/sumdb/{note,tlog} accept relic's checkpoints and
#    proofs (installs golang-go and golang-golang-x-mod-dev from Debian if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "tests/run.sh: cargo is not installed; install Rust from https://rustup.rs" >&2
    exit 1
fi

echo "== cargo test (workspace)"
cargo test --workspace --locked 2>&1

echo "== benchmarks compile"
cargo check -p relic-benches --benches --bins --locked 2>&1

echo "== interop with Go's sumdb/note and sumdb/tlog"
cargo build -p relic-cli --locked 2>&1
bash tests/interop/run.sh target/debug/relic
