#!/usr/bin/env bash
# Fuzzes the recording reader and the model it feeds (fuzz/fuzz_targets/reader.rs) for a
# while: SECONDS, the first argument, defaults to 45. Installs cargo-fuzz and the nightly
# toolchain if missing and seeds the corpus with the demo recording and fuzz/seeds/ (files
# that once made the reader or the model fail, so each run tries them first). A crash, or
# an input that takes more memory than RSS_LIMIT_MB, stops it with the input saved under
# fuzz/artifacts/reader/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-45}
say() { printf 'fuzz: %s\n' "$*" >&2; }

if ! rustup toolchain list | grep -q '^nightly'; then
    say "installing the nightly toolchain"
    rustup toolchain install nightly --profile minimal
fi
# Pinned: a newer cargo-fuzz may need a newer rustc than this machine's stable.
CARGO_FUZZ_VERSION=0.13.2
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    say "installing cargo-fuzz $CARGO_FUZZ_VERSION (a few minutes)"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
# fuzz/ is a workspace of its own with its own lock file; like `cargo test --locked`, refuse
# to run on a stale one rather than rewrite a committed file.
if ! cargo +nightly metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null; then
    say "fuzz/Cargo.lock is out of date: run 'cp Cargo.lock fuzz/ && cargo +nightly metadata --manifest-path fuzz/Cargo.toml' and commit it"
    exit 1
fi
corpus=fuzz/corpus/reader
mkdir -p "$corpus"
cp assets/demo.fwrec fuzz/seeds/*.fwrec "$corpus/"
cd fuzz
say "fuzzing the recording reader for $seconds s"
mkdir -p target
log=target/fuzz-reader.log
# An input of the corpus's size (at most a few tens of KiB) may take 4 KiB per byte plus
# 128 MiB (docs/recording.md, "Bounds"); the rest is the sanitizer's and libFuzzer's own.
RSS_LIMIT_MB=1024
if ! cargo +nightly fuzz run reader "corpus/reader" -- -max_total_time="$seconds" \
    -rss_limit_mb="$RSS_LIMIT_MB" >"$log" 2>&1; then
    tail -n 80 "$log" >&2
    say "the reader failed on an input: see fuzz/artifacts/reader/ and fuzz/$log"
    exit 1
fi
grep -E '^#[0-9]+[[:space:]]+DONE' "$log" >&2 || true
