#!/usr/bin/env bash
# Builds forkwatch in release mode and installs it under PREFIX (default /usr/local):
#   PREFIX/bin/forkwatch-tui
#   PREFIX/share/man/man1/forkwatch-tui.1 and forkwatch-tui-SUBCOMMAND.1 for each
#   PREFIX/share/bash-completion/completions/forkwatch-tui
#   PREFIX/share/zsh/site-functions/_forkwatch-tui
#   PREFIX/share/fish/vendor_completions.d/forkwatch-tui.fish
# The manual page and the completions are made by the binary from its own command line
# definitions. It builds as the one who runs it, then installs with sudo if they may not
# write under PREFIX. DESTDIR, if set, is put before PREFIX (staging for a package), and
# FORKWATCH_BIN=FILE installs that binary instead of building one.
# Usage: scripts/install.sh [PREFIX]
set -euo pipefail
prefix=${1:-/usr/local}
case $prefix in
    /*) ;;
    *) printf 'install: PREFIX must be an absolute path, not %s\n' "$prefix" >&2; exit 2 ;;
esac
# Both resolved before the cd below, from where the caller is.
self=$(realpath "$0")
given_bin=${FORKWATCH_BIN:+$(realpath "$FORKWATCH_BIN")}
cd "$(dirname "$self")/.."
if [ -n "$given_bin" ]; then
    bin=$given_bin
else
    scripts/setup.sh
    cargo build --release --locked --quiet
    bin=target/release/forkwatch-tui
fi
root=${DESTDIR:-}$prefix
# The nearest directory of the destination that exists: where one may or may not write.
existing=$root
while [ ! -e "$existing" ]; do existing=$(dirname "$existing"); done
if [ "$(id -u)" -ne 0 ] && [ ! -w "$existing" ]; then
    # Built already: root only installs (sudo's PATH need not find cargo).
    exec sudo env FORKWATCH_BIN="$(realpath "$bin")" DESTDIR="${DESTDIR:-}" "$self" "$prefix"
fi

made=$(mktemp -d)
trap 'rm -rf "$made"' EXIT
"$bin" man >"$made/forkwatch-tui.1"
# The subcommands as `--help` lists them, each with its page.
subcommands=$("$bin" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
for sub in $subcommands; do
    [ "$sub" = help ] || "$bin" man "$sub" >"$made/forkwatch-tui-$sub.1"
done
for shell in bash zsh fish; do
    "$bin" completions "$shell" >"$made/$shell"
done

# install replaces what is there (a symbolic link included) rather than writing through it.
install -D -m 0755 "$bin" "$root/bin/forkwatch-tui"
for page in "$made"/*.1; do
    install -D -m 0644 "$page" "$root/share/man/man1/$(basename "$page")"
done
install -D -m 0644 "$made/bash" "$root/share/bash-completion/completions/forkwatch-tui"
install -D -m 0644 "$made/zsh" "$root/share/zsh/site-functions/_forkwatch-tui"
install -D -m 0644 "$made/fish" "$root/share/fish/vendor_completions.d/forkwatch-tui.fish"
printf 'install: forkwatch-tui, its manual page and completions are in %s\n' "$root" >&2
