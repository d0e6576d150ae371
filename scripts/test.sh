#!/usr/bin/env bash
# Every check and test: formatting, clippy, 30 s of fuzzing the recording reader, and the
# test suite, which loads the real probe into the running kernel (so it runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
    # PATH through env: sudo's secure_path would otherwise hide the caller's cargo.
    exec sudo --preserve-env=HOME,CARGO_HOME,RUSTUP_HOME env "PATH=$PATH" \
        "$0" --owner "$(id -u):$(id -g)"
fi
if [ "${1:-}" = --owner ]; then
    # Root builds with the caller's toolchain and checkout: what it made there goes back
    # to them, so that their own builds (scripts/run.sh) can write it again.
    owner=$2
    trap 'chown -R "$owner" . "${CARGO_HOME:-$HOME/.cargo}" "${RUSTUP_HOME:-$HOME/.rustup}" \
        2>/dev/null || true' EXIT
fi
# The tests run forkwatch as root; those about sudo say who ran it themselves. Left set,
# every file forkwatch makes would be made as the one who ran this script.
unset SUDO_UID SUDO_GID SUDO_USER SUDO_COMMAND
# The tests run forkwatch with its defaults, whatever config file the one running them has
# (HOME is theirs): a directory that holds none.
export XDG_CONFIG_HOME="$PWD/target/no-config"
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# The probe is built for the BPF target by nightly (see build.rs); lint it the same way.
(cd ebpf && CARGO_ENCODED_RUSTFLAGS="--cfg=bpf_target_arch=\"$(uname -m)\"" \
    cargo +nightly clippy --locked --release --target bpfel-unknown-none -Z build-std=core \
    --target-dir ../target/ebpf-clippy -- -D warnings)
scripts/fuzz.sh 30
cargo test --locked
