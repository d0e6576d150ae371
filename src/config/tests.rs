use std::{ffi::OsStr, path::Path};

use ratatui::style::{Color, Modifier, Style};

use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(
        Path::new("/home/u/.config/forkwatch/config.toml"),
        text.to_owned(),
    )
}

/// The one line a mistake in `text` is.
fn error(text: &str) -> String {
    parse(text).expect_err("a mistake").to_string()
}

#[test]
fn every_setting_is_read() {
    let config = parse(
        r##"
columns = ["age", "PID"]
colour = "never"
linger = "1m30s"
backend = "procfs"

[colours]
selection = "reversed"
match = "bold #ff8000"

[keys]
quit = ["q", "F10"]

[remote]
ssh = ["ssh", "-i", "/home/u/.ssh/fleet"]
command = "sudo /usr/local/bin/forkwatch-tui record -o -"
"##,
    )
    .unwrap();
    assert_eq!(
        config.look.columns,
        [Column::Age, Column::Pid, Column::Command]
    );
    assert_eq!(config.colour, ColourChoice::Never);
    assert_eq!(config.linger_ns, Some(90 * duration::SECOND));
    assert_eq!(config.model().linger_ns, 90 * duration::SECOND);
    assert_eq!(config.backend, Some(BackendChoice::Procfs));
    let theme = config.look.theme;
    assert_eq!(
        theme.selection,
        Style::new().add_modifier(Modifier::REVERSED)
    );
    assert_eq!(
        theme.matched,
        Style::new()
            .fg(Color::Rgb(0xff, 0x80, 0))
            .add_modifier(Modifier::BOLD)
    );
    assert_eq!(theme.header, Theme::default().header, "the others stay");
    assert_eq!(config.keys.len(), 1);
    assert_eq!(config.keys[0].action.get_ref(), "quit");
    let keys: Vec<&str> = config.keys[0]
        .keys
        .iter()
        .map(|k| k.get_ref().as_str())
        .collect();
    assert_eq!(keys, ["q", "F10"]);
    assert_eq!(config.remote.ssh, ["ssh", "-i", "/home/u/.ssh/fleet"]);
    assert_eq!(
        config.remote.command,
        "sudo /usr/local/bin/forkwatch-tui record -o -"
    );
}

#[test]
fn a_remote_without_an_ssh_program_or_a_command_is_a_mistake() {
    let file = "/home/u/.config/forkwatch/config.toml";
    assert_eq!(
        error("[remote]\nssh = []\n"),
        format!("{file}:2: remote.ssh: the ssh command needs a program, e.g. [\"ssh\"]")
    );
    assert_eq!(
        error("[remote]\ncommand = \" \"\n"),
        format!("{file}:2: remote.command: the remote command is empty")
    );
    assert_eq!(
        error("[remote]\nhost = \"x\"\n"),
        format!("{file}:2: remote.host: unknown field `host`, expected `ssh` or `command`")
    );
    assert_eq!(parse("").unwrap().remote, RemoteOptions::default());
}

/// `[remote]` names a program to run: only from a file of forkwatch's user, root or the
/// user who ran sudo, not from one another user could write.
#[test]
fn a_remote_from_someone_elses_file_is_refused() {
    let config = parse("[remote]\nssh = [\"/tmp/theirs\"]\n").unwrap();
    config.runs_only_for(1000, vec![0, 1000]).unwrap();
    let error = config.runs_only_for(1001, vec![0, 1000]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "/home/u/.config/forkwatch/config.toml: remote: the file is uid 1001's: its [remote] \
         would run a program of theirs as you"
    );
    parse("linger = \"5s\"\n")
        .unwrap()
        .runs_only_for(1001, vec![0])
        .unwrap();
}

#[test]
fn an_empty_file_is_the_defaults() {
    let config = parse("# nothing yet\n").unwrap();
    assert_eq!(config.look, Look::default());
    assert_eq!(config.model(), model::Config::default());
    assert_eq!(config.backend, None);
    assert!(config.keys.is_empty());
}

#[test]
fn a_mistake_is_one_line_naming_the_file_the_line_and_the_key() {
    let file = "/home/u/.config/forkwatch/config.toml";
    assert_eq!(
        error("backend = \"ebpf\"\n\nlinger = \"5x\"\n"),
        format!(
            "{file}:3: linger: invalid duration \"5x\" (e.g. \"5s\", \"500ms\", \"2m\"; at most a day)"
        )
    );
    assert_eq!(
        error("lingr = \"5s\"\n"),
        format!(
            "{file}:1: lingr: unknown field `lingr`, expected one of `columns`, `colour`, \
             `colours`, `linger`, `backend`, `keys`, `remote`"
        )
    );
    assert_eq!(
        error("[colours]\nheader = \"black\"\nselected = \"red\"\n"),
        format!(
            "{file}:3: colours.selected: no such style; the styles are header, sorted, \
             selection, new, exited, failed, match, pin, faint, tag, succeeded, killed, running, \
             total"
        )
    );
    assert_eq!(
        error("[colours]\nselection = \"blod red\"\n"),
        format!("{file}:2: colours.selection: `blod` is not a colour or a style word")
    );
    assert_eq!(
        error("columns = [\"pid\",\n  \"uid\"]\n"),
        format!(
            "{file}:2: columns: unknown column \"uid\"; the columns are pid, user, cpu, mem, \
             state, threads, container, age, command"
        )
    );
    assert_eq!(
        error("columns = [\"command\", \"pid\"]\n"),
        format!("{file}:1: columns: \"command\" must be the last column")
    );
    assert_eq!(
        error("columns = [\"pid\", \"pid\"]\n"),
        format!("{file}:1: columns: \"pid\" is listed twice")
    );
    assert_eq!(
        error("backend = \"bpf\"\n"),
        format!("{file}:1: backend: \"bpf\" is not auto, ebpf, netlink or procfs")
    );
    let wrong_type = error("\n\nlinger = 5\n");
    assert!(
        wrong_type.starts_with(&format!("{file}:3: linger: invalid type: integer `5`")),
        "{wrong_type}"
    );
    let syntax = error("linger = \"5s\"\ncolumns = [\"pid\"\n");
    assert!(
        syntax.starts_with(&format!("{file}:2: columns: ")),
        "{syntax}"
    );
    assert_eq!(
        error("[colours]\nselection = \"red\n"),
        format!("{file}:2: colours.selection: invalid basic string, expected `\"`")
    );
    assert_eq!(
        error("backend = \"ebpf\"\nbackend = \"procfs\"\n"),
        format!("{file}:2: backend: duplicate key")
    );
    assert_eq!(
        error("[colours\n"),
        format!("{file}:1: unclosed table, expected `]`")
    );
    for text in [wrong_type, syntax] {
        assert!(!text.contains('\n'), "{text:?}");
    }
}

/// What the key bindings find wrong is said as the config's own mistakes are.
#[test]
fn a_binding_says_where_its_mistake_is() {
    let config = parse("[keys]\nquit = [\"q\"]\nsearch = [\"/\", \"ctrl-shift-x\"]\n").unwrap();
    let search = &config.keys[1];
    assert_eq!(search.action.get_ref(), "search");
    let bad = &search.keys[1];
    assert_eq!(
        config
            .error_at(bad.span(), "unknown key \"ctrl-shift-x\"")
            .to_string(),
        "/home/u/.config/forkwatch/config.toml:3: keys.search: unknown key \"ctrl-shift-x\""
    );
}

/// A keymap's check of `[keys]` as the keymap makes it: actions it knows, keys it knows,
/// no key given twice.
fn keymap(bindings: &[(&str, Vec<&str>)]) -> Result<usize, String> {
    let mut given = Vec::new();
    for (action, keys) in bindings {
        if !["up", "down", "quit"].contains(action) {
            return Err(format!("`{action}` is not an action"));
        }
        for key in keys {
            if key.chars().count() != 1 {
                return Err(format!("`{key}` is not a key (for `{action}`)"));
            }
            if given.contains(key) {
                return Err(format!("{key} is given twice"));
            }
            given.push(*key);
        }
    }
    Ok(given.len())
}

#[test]
fn the_keymap_check_is_said_where_it_fails() {
    let file = "/home/u/.config/forkwatch/config.toml";
    let check = |text: &str| {
        let config = parse(text).unwrap();
        config.check_keys(keymap).map_err(|e| e.to_string())
    };
    assert_eq!(check("[keys]\nup = [\"k\"]\ndown = [\"j\"]\n"), Ok(2));
    assert_eq!(check(""), Ok(0));
    assert_eq!(
        check("[keys]\nup = [\"k\"]\n\njump = [\"j\"]\n"),
        Err(format!("{file}:4: keys.jump: `jump` is not an action"))
    );
    assert_eq!(
        check("[keys]\nquit = [\n  \"q\",\n  \"ctrl-c\",\n]\n"),
        Err(format!(
            "{file}:4: keys.quit: `ctrl-c` is not a key (for `quit`)"
        ))
    );
    assert_eq!(
        check("[keys]\ndown = [\"x\"]\nup = [\"k\",\n  \"x\"]\n"),
        Err(format!("{file}:4: keys.up: x is given twice"))
    );
}

#[test]
fn colour_follows_no_color_unless_the_file_says() {
    let auto = parse("").unwrap();
    assert!(auto.look(None).colour);
    assert!(auto.look(Some(OsStr::new(""))).colour, "empty is unset");
    assert!(!auto.look(Some(OsStr::new("1"))).colour);
    let always = parse("colour = \"always\"").unwrap();
    assert!(always.look(Some(OsStr::new("1"))).colour);
    assert!(!parse("colour = \"never\"").unwrap().look(None).colour);
}

#[test]
fn the_file_is_found_as_xdg_says() {
    let path = |xdg: Option<&str>, home: Option<&str>| {
        super::path(xdg.map(OsStr::new), home.map(OsStr::new))
    };
    assert_eq!(
        path(Some("/x"), Some("/home/u")).unwrap(),
        Path::new("/x/forkwatch/config.toml")
    );
    assert_eq!(
        path(Some("relative"), Some("/home/u")).unwrap(),
        Path::new("/home/u/.config/forkwatch/config.toml")
    );
    assert_eq!(
        path(Some(""), Some("/root")).unwrap(),
        Path::new("/root/.config/forkwatch/config.toml")
    );
    assert_eq!(path(None, None), None);
    assert_eq!(path(None, Some("")), None);
}

#[test]
fn only_a_regular_file_of_bounded_size_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("config.toml");
    assert!(
        Config::read(&missing).unwrap().keys.is_empty(),
        "missing: defaults"
    );

    let fifo = dir.path().join("fifo.toml");
    rustix::fs::mkfifoat(rustix::fs::CWD, &fifo, rustix::fs::Mode::from(0o600)).unwrap();
    let e = Config::read(&fifo).unwrap_err().to_string();
    assert!(
        e.ends_with("fifo.toml: cannot read it: it is not a regular file"),
        "{e}"
    );

    let big = dir.path().join("big.toml");
    std::fs::write(&big, "#".repeat(MAX_BYTES as usize + 1)).unwrap();
    let e = Config::read(&big).unwrap_err().to_string();
    assert!(
        e.ends_with("cannot read it: it is larger than 1048576 bytes"),
        "{e}"
    );

    let real = dir.path().join("real.toml");
    std::fs::write(&real, "linger = \"2s\"\n").unwrap();
    let link = dir.path().join("link.toml");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert_eq!(
        Config::read(&link).unwrap().linger_ns,
        Some(2 * duration::SECOND)
    );
}

/// The example in README.md's "Configuration" is a file that parses, and gives the
/// defaults it says are the defaults.
#[test]
fn the_readme_example_is_the_defaults() {
    let readme = include_str!("../../README.md");
    let section = &readme[readme.find("## Configuration").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let config = parse(example).unwrap();
    assert_eq!(config.look, Look::default());
    assert_eq!(config.colour, ColourChoice::Auto);
    assert_eq!(config.model(), model::Config::default());
    assert_eq!(config.backend, Some(BackendChoice::Auto));
    assert_eq!(config.keys[0].action.get_ref(), "quit");
    assert_eq!(config.remote, RemoteOptions::default());
}

/// Whatever the file holds, a mistake is one line, never a panic: deep nesting, keys and
/// values of many-byte characters around the error, control characters.
#[test]
fn hostile_files_are_one_line_mistakes() {
    let deep = format!("columns = {}", "[".repeat(10_000));
    let texts = [
        deep.as_str(),
        "é = \"x\n",
        "[colours]\nselection = \"é\u{202e}ü",
        "linger = \"\u{1b}]52;c;aGk=\u{7}\"",
        "[keys]\nquit = [1, \"q\"]\n",
        "[[columns]]\nx = 1\n",
        "\u{feff}linger = \"5s\"\nlinger = \"6s\"",
        "=",
    ];
    for text in texts {
        let line = error(text);
        assert!(!line.contains('\n'), "{text:?}: {line:?}");
        assert!(
            line.starts_with("/home/u/.config/forkwatch/config.toml:"),
            "{line}"
        );
    }
}
