#!/usr/bin/env bash
# Makes assets/demo.fwrec: a real recording of a small parallel C build (`make -j2` of a
# dozen files), for newcomers to replay without root. Run as root; about ten seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 12); do
    printf 'int f%d(int x) { return x * %d; }\n' "$i" "$i" >"$work/f$i.c"
done
printf 'int f1(int);\nint main(void) { return f1(0); }\n' >"$work/main.c"
cat >"$work/Makefile" <<'MAKE'
OBJS = main.o $(patsubst %.c,%.o,$(wildcard f*.c))
demo: $(OBJS)
	$(CC) -o $@ $(OBJS)
	./demo
%.o: %.c
	$(CC) -O2 -c $< -o $@
MAKE
out=assets/demo.fwrec
mkdir -p assets
# Recorded in the private work directory (the recording is the root's, mode 0600), then
# copied out readable by all: it is meant to be replayed without root.
target/release/forkwatch-tui record -o "$work/demo.fwrec" 2>"$work/record.log" &
recorder=$!
until grep -q 'stop with Ctrl-C' "$work/record.log"; do sleep 0.1; done
make -s -C "$work" -j2
kill -INT "$recorder"
wait "$recorder"
cat "$work/record.log" >&2
cat "$work/demo.fwrec" >"$out"
