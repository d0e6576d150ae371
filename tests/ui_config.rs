//! The real UI in a real terminal (tmux) with a config file: its columns in its order,
//! and with `NO_COLOR` not one colour sent to the terminal.

#[allow(dead_code)]
#[path = "common/tmux.rs"]
mod tmux;

use std::fs;

use tmux::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");

/// The colours an SGR sequence (`ESC [ ... m`) of `screen` sets, as its parameters.
fn colours_set(screen: &str) -> Vec<String> {
    let mut found = Vec::new();
    for sequence in screen.split("\x1b[").skip(1) {
        let Some(end) = sequence.find(|c: char| !c.is_ascii_digit() && c != ';') else {
            continue;
        };
        if !sequence[end..].starts_with('m') {
            continue;
        }
        let params = &sequence[..end];
        let colour = params.split(';').any(|p| {
            matches!(
                p.parse::<u32>(),
                Ok(30..=39 | 40..=49 | 90..=97 | 100..=107)
            )
        });
        // 39 and 49 are the terminal's own colours: no colour.
        let reset = params
            .split(';')
            .all(|p| matches!(p, "39" | "49" | "0" | ""));
        if colour && !reset {
            found.push(params.to_owned());
        }
    }
    found
}

#[test]
fn the_ui_draws_the_configured_columns_without_colour_under_no_color() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("forkwatch")).unwrap();
    fs::write(
        dir.path().join("forkwatch/config.toml"),
        "columns = [\"age\", \"pid\"]\nlinger = \"1s\"\n",
    )
    .unwrap();
    let tmux = Tmux::start("config");
    let command = format!(
        "XDG_CONFIG_HOME={} NO_COLOR=1 {BIN} --log /dev/null --backend procfs",
        dir.path().display()
    );
    tmux.type_text(&command, true);
    let screen = tmux.wait_for("UI", |s| s.contains("processes"));
    // Below the banner that says what procfs misses.
    let header = screen.lines().find(|l| l.contains("COMMAND")).unwrap();
    assert!(header.starts_with("   AGE     PID COMMAND"), "{screen}");
    assert!(!header.contains("USER"), "{screen}");
    let sent = tmux.run(&["capture-pane", "-p", "-e", "-t", "main"]);
    assert_eq!(colours_set(&sent), Vec::<String>::new(), "{sent:?}");
    // Reversed instead: the header and the selection stand out.
    assert!(sent.contains("\x1b[7m"), "{sent:?}");
    tmux.key("q");
    tmux.assert_restored(BIN);

    // The same without NO_COLOR has colours: the check above can fail.
    let command = format!(
        "XDG_CONFIG_HOME={} {BIN} --log /dev/null --backend procfs",
        dir.path().display()
    );
    tmux.type_text(&command, true);
    tmux.wait_for("UI", |s| {
        s.contains("AGE     PID COMMAND") && s.contains("processes")
    });
    let sent = tmux.run(&["capture-pane", "-p", "-e", "-t", "main"]);
    assert!(!colours_set(&sent).is_empty(), "{sent:?}");
    tmux.key("q");
    tmux.assert_restored(BIN);
}

#[test]
fn the_config_files_keys_drive_the_ui() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("forkwatch")).unwrap();
    fs::write(
        dir.path().join("forkwatch/config.toml"),
        "[keys]\nquit = [\"x\"]\nhelp = [\"F2\"]\n",
    )
    .unwrap();
    let tmux = Tmux::start_sized("config-keys", 120, 60);
    let command = format!(
        "XDG_CONFIG_HOME={} {BIN} --log /dev/null --backend procfs",
        dir.path().display()
    );
    tmux.type_text(&command, true);
    tmux.wait_for("UI", |s| s.contains("processes"));
    tmux.key("F2");
    // Both lines: a capture can come while the screen is half drawn.
    let help = tmux.wait_for("help", |s| s.contains("this help") && s.contains("quit ("));
    // The help lists the keys in use: quit's is x alone.
    let quit = help.lines().find(|l| l.contains("quit (")).unwrap();
    let label = quit.split('│').nth(1).unwrap().split_whitespace().next();
    assert_eq!(label, Some("x"), "{help}");
    tmux.key("Escape");
    // q is no longer quit: the UI stays until x.
    tmux.key("q");
    tmux.key("x");
    tmux.assert_restored(BIN);
}
