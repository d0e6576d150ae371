#!/usr/bin/env bash
# Installs what is missing, builds forkwatch in release mode and runs it as root.
# Arguments are passed to forkwatch-tui, e.g. `scripts/run.sh events --json`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --quiet
if [ "$(id -u)" -eq 0 ]; then
    exec target/release/forkwatch-tui "$@"
fi
exec sudo target/release/forkwatch-tui "$@"
