#!/usr/bin/env bash
# Installs what building forkwatch needs and is missing on a fresh machine:
#   - the nightly toolchain's rust-src and clippy;
#   - tmux, strace, man (man-db), sshd (openssh-server), ClickHouse (server and client)
#     and a C++ compiler for the tests and the fuzzer (with apt-get, as root);
#   - bpf-linker, built against the LLVM inside that nightly rustc (no system LLVM needed);
#   - tracefs, mounted if it is not.
# Safe to run again: each step is skipped when already done.
set -euo pipefail

BPF_LINKER_VERSION=0.13.0
say() { printf 'setup: %s\n' "$*" >&2; }

command -v rustup >/dev/null || { say "rustup is missing: install Rust with rustup first"; exit 1; }

if ! rustup toolchain list | grep -q '^nightly'; then
    say "installing the nightly toolchain"
    rustup toolchain install nightly --profile minimal
fi
# rust-src: the probe is built with -Z build-std=core; clippy: the test command lints the
# probe with nightly.
for component in rust-src clippy; do
    if ! rustup component list --installed --toolchain nightly | grep -q "^$component"; then
        say "adding $component to the nightly toolchain"
        rustup component add "$component" --toolchain nightly
    fi
done

# The tests drive the terminal UI in tmux, watch what it reads with strace and render the
# generated manual page with `man -l`, start an sshd and load recordings into a ClickHouse
# server of their own (docs/clickhouse.md), and cargo-fuzz builds libFuzzer with a C++
# compiler.
missing=()
command -v tmux >/dev/null || missing+=(tmux)
command -v strace >/dev/null || missing+=(strace)
command -v man >/dev/null || missing+=(man-db)
command -v c++ >/dev/null || missing+=(g++)
# The --remote tests log in over ssh to an sshd of their own on 127.0.0.1.
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
# The server is in /usr/sbin, which a user's PATH may lack.
[ -x /usr/sbin/clickhouse-server ] || command -v clickhouse-server >/dev/null \
    || missing+=(clickhouse-server)
command -v clickhouse-client >/dev/null || missing+=(clickhouse-client)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
        say "installing ${missing[*]}"
        apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
            || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
    else
        say "missing ${missing[*]}: the build (a C compiler) and the tests need them (install them, or run this as root on Debian)"
    fi
fi

# bpf-linker links against the nightly sysroot's libLLVM; `rustup run nightly` puts that
# library on the loader path, so that is how it is checked.
if ! rustup run nightly bpf-linker --version 2>/dev/null | grep -q "$BPF_LINKER_VERSION"; then
    sysroot=$(rustc +nightly --print sysroot)
    llvm=$(ls "$sysroot"/lib/libLLVM.so.* 2>/dev/null | head -n 1)
    [ -n "$llvm" ] || { say "no libLLVM in $sysroot/lib: cannot build bpf-linker"; exit 1; }
    major=$(basename "$llvm" | sed -E 's/^libLLVM\.so\.([0-9]+).*/\1/')
    prefix=${XDG_CACHE_HOME:-$HOME/.cache}/forkwatch/llvm-$major
    mkdir -p "$prefix/lib"
    # A copy, not a link: the library's file name changes whenever nightly is updated.
    cp -f "$llvm" "$prefix/lib/libLLVM.so"
    say "building bpf-linker $BPF_LINKER_VERSION against LLVM $major from $sysroot (about a minute)"
    LLVM_PREFIX=$prefix cargo install bpf-linker --version "$BPF_LINKER_VERSION" --locked \
        --no-default-features --features "llvm-$major"
fi

if [ "$(id -u)" -eq 0 ] && ! mountpoint -q /sys/kernel/tracing; then
    say "mounting tracefs at /sys/kernel/tracing"
    mount -t tracefs nodev /sys/kernel/tracing
fi
