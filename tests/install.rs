//! The manual pages and completions made from the command line's definitions: `man -l`
//! renders them, bash completes subcommands with them, and scripts/install.sh puts the
//! binary, the pages and the completions under a prefix.

use std::{
    fs,
    os::unix::fs::{PermissionsExt, symlink},
    path::Path,
    process::{Command, Output, Stdio},
};

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");

fn forkwatch(args: &[&str]) -> Output {
    let output = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// What `man -l` shows of the page in `file`, its words joined by single spaces.
fn rendered(file: &Path) -> String {
    let output = Command::new("man")
        .arg("-l")
        .arg(file)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "80")
        .env_remove("MAN_KEEP_FORMATTING")
        .output()
        .expect("man (man-db: scripts/setup.sh installs it)");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "no warnings");
    let text = String::from_utf8(output.stdout).unwrap();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn man_renders_the_generated_pages() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("forkwatch-tui.1");
    fs::write(&page, forkwatch(&["man"]).stdout).unwrap();
    let text = rendered(&page);
    for expected in [
        "NAME forkwatch-tui - Watch a Linux machine's processes live",
        "SYNOPSIS forkwatch-tui [--backend] [--poll-interval]",
        "--ignore-config Start with the default settings",
        "SUBCOMMANDS forkwatch-tui-events(1) Print process events as they happen",
    ] {
        assert!(text.contains(expected), "`{expected}` in: {text}");
    }
    let wait = dir.path().join("forkwatch-tui-wait.1");
    fs::write(&wait, forkwatch(&["man", "wait"]).stdout).unwrap();
    let text = rendered(&wait);
    for expected in [
        "NAME forkwatch-tui-wait - Wait until every listed process has exited",
        "SYNOPSIS forkwatch-tui wait [--backend]",
    ] {
        assert!(text.contains(expected), "`{expected}` in: {text}");
    }
}

/// What bash's completion function offers for the words of `line` (the last one being
/// completed), with the script that `completions bash` prints.
fn complete(line: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("forkwatch-tui.bash");
    fs::write(&script, forkwatch(&["completions", "bash"]).stdout).unwrap();
    let words = line
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    // As bash calls it: the command, the word completed, the word before it.
    let program = format!(
        r#"source "$1"
function=$(complete -p forkwatch-tui | sed -E 's/.*-F ([^ ]+).*/\1/')
COMP_WORDS=({words})
COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
COMP_LINE="${{COMP_WORDS[*]}}"
COMP_POINT=${{#COMP_LINE}}
"$function" forkwatch-tui "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#
    );
    let output = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &program, "bash"])
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut offered: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    offered.sort();
    offered
}

#[test]
fn bash_completes_subcommands_and_flags() {
    assert_eq!(
        complete(&["forkwatch-tui", "re"]),
        ["record", "relay", "replay"]
    );
    assert_eq!(
        complete(&["forkwatch-tui", "--ignore-c"]),
        ["--ignore-config"]
    );
    // A subcommand's own flags and values too (clap-rs/clap#6421 worked around).
    assert_eq!(
        complete(&["forkwatch-tui", "events", "--bac"]),
        ["--backend"]
    );
    assert_eq!(
        complete(&["forkwatch-tui", "events", "--backend", "p"]),
        ["procfs"]
    );
    assert_eq!(complete(&["forkwatch-tui", "completions", "f"]), ["fish"]);
}

#[test]
fn man_and_completions_do_not_read_the_config() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("forkwatch")).unwrap();
    fs::write(dir.path().join("forkwatch/config.toml"), "broken = [").unwrap();
    for args in [&["man"][..], &["completions", "zsh"]] {
        let output = Command::new(BIN)
            .args(args)
            .env("XDG_CONFIG_HOME", dir.path())
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}");
        assert!(!output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn install_puts_the_binary_pages_and_completions_under_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("usr");
    // What is in the way is replaced, not written through.
    let victim = dir.path().join("victim");
    fs::write(&victim, "keep me").unwrap();
    let bash = prefix.join("share/bash-completion/completions/forkwatch-tui");
    fs::create_dir_all(bash.parent().unwrap()).unwrap();
    symlink(&victim, &bash).unwrap();

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install.sh");
    let output = Command::new(script)
        .arg(&prefix)
        .env("FORKWATCH_BIN", BIN)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let installed = |path: &str, mode: u32| {
        let path = prefix.join(path);
        let meta = fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(meta.is_file(), "{path:?}");
        assert_eq!(meta.permissions().mode() & 0o7777, mode, "{path:?}");
        fs::read(path).unwrap()
    };
    assert_eq!(
        installed("bin/forkwatch-tui", 0o755),
        fs::read(BIN).unwrap()
    );
    let page = installed("share/man/man1/forkwatch-tui.1", 0o644);
    assert_eq!(page, forkwatch(&["man"]).stdout);
    let events = installed("share/man/man1/forkwatch-tui-events.1", 0o644);
    assert_eq!(events, forkwatch(&["man", "events"]).stdout);
    for (path, shell) in [
        ("share/bash-completion/completions/forkwatch-tui", "bash"),
        ("share/zsh/site-functions/_forkwatch-tui", "zsh"),
        ("share/fish/vendor_completions.d/forkwatch-tui.fish", "fish"),
    ] {
        let script = installed(path, 0o644);
        assert_eq!(script, forkwatch(&["completions", shell]).stdout, "{shell}");
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
}
