//! The config file as the real binary reads it: from $XDG_CONFIG_HOME, else ~/.config; a
//! mistake in it is one line naming the file, the line and the key, and a non-zero exit,
//! for the UI and every command; `--ignore-config` starts with the defaults; the file's
//! backend is the default that `--backend` overrides.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
};

const BIN: &str = env!("CARGO_BIN_EXE_forkwatch-tui");

/// `dir/forkwatch/config.toml` holding `text`; its path.
fn write_config(dir: &Path, text: &str) -> PathBuf {
    fs::create_dir_all(dir.join("forkwatch")).unwrap();
    let path = dir.join("forkwatch/config.toml");
    fs::write(&path, text).unwrap();
    path
}

/// `forkwatch-tui ARGS` with the config of `xdg_config_home`, and a HOME without one.
fn run(xdg_config_home: &Path, args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    Command::new(BIN)
        .args(args)
        .env("XDG_CONFIG_HOME", xdg_config_home)
        .env("HOME", home.path())
        // Not under sudo, even if the tests are: the file is read as root.
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_mistake_is_one_line_naming_the_file_the_line_and_the_key_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "# my settings\nbackend = \"procfs\"\nlingr = \"5s\"\n",
    );
    let expected = format!(
        "forkwatch-tui: {}:3: lingr: unknown field `lingr`, expected one of `columns`, \
         `colour`, `colours`, `linger`, `backend`, `keys`, `remote`\n",
        path.display()
    );
    let commands: [&[&str]; 8] = [
        &[],
        &["events"],
        &["watch", "1"],
        &["record", "-o", "never-made.fwrec"],
        &["replay", "missing.fwrec"],
        &["relay", "--to", "1"],
        &["wait", "1"],
        &["events", "--backend", "procfs"],
    ];
    for args in commands {
        let output = run(dir.path(), args);
        assert!(!output.status.success(), "{args:?}");
        assert_eq!(stderr(&output), expected, "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    assert!(!Path::new("never-made.fwrec").exists());

    // A bad value names its key and line too.
    write_config(dir.path(), "\n[colours]\n\nselection = \"black on\"\n");
    let output = run(dir.path(), &["events"]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output),
        format!(
            "forkwatch-tui: {}:4: colours.selection: `on` needs a colour after it\n",
            path.display()
        )
    );
}

#[test]
fn ignore_config_starts_with_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), "linger = \"5x\"\n");
    let output = run(
        dir.path(),
        &[
            "--ignore-config",
            "events",
            "--backend",
            "procfs",
            "--duration",
            "0.1",
        ],
    );
    let said = stderr(&output);
    assert!(output.status.success(), "{said}");
    assert!(
        said.starts_with("forkwatch-tui: watching with procfs"),
        "{said}"
    );
}

#[test]
fn the_files_backend_is_the_default_and_the_flag_wins() {
    // Found through HOME when XDG_CONFIG_HOME is not set.
    let home = tempfile::tempdir().unwrap();
    write_config(&home.path().join(".config"), "backend = \"procfs\"\n");
    let events = |extra: &[&str]| {
        let output = Command::new(BIN)
            .args(["events", "--duration", "0.1"])
            .args(extra)
            .env_remove("XDG_CONFIG_HOME")
            .env("HOME", home.path())
            .env_remove("SUDO_UID")
            .env_remove("SUDO_GID")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let said = stderr(&output);
        assert!(output.status.success(), "{said}");
        said
    };
    let said = events(&[]);
    assert!(
        said.starts_with("forkwatch-tui: watching with procfs"),
        "{said}"
    );
    let said = events(&["--backend", "netlink"]);
    assert!(
        said.starts_with("forkwatch-tui: watching with netlink"),
        "{said}"
    );
}

#[test]
fn a_missing_file_is_the_defaults_and_a_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        dir.path(),
        &["events", "--backend", "procfs", "--duration", "0.1"],
    );
    assert!(output.status.success(), "{}", stderr(&output));

    fs::create_dir_all(dir.path().join("forkwatch/config.toml")).unwrap();
    let output = run(dir.path(), &["events"]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output),
        format!(
            "forkwatch-tui: {}/forkwatch/config.toml: cannot read it: it is not a regular file\n",
            dir.path().display()
        )
    );
}

/// Under sudo, a file outside root's home is read as the user who ran sudo: a link to a
/// file only root may read is refused, not quoted back in an error.
#[test]
fn under_sudo_a_users_file_is_read_as_them() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let dir = tempfile::tempdir().unwrap();
    let open = |path: &Path, mode| fs::set_permissions(path, fs::Permissions::from_mode(mode));
    open(dir.path(), 0o755).unwrap();
    let secret = dir.path().join("secret.toml");
    fs::write(&secret, "backend = \"hunter2\"\n").unwrap();
    open(&secret, 0o600).unwrap();
    let config = dir.path().join("forkwatch");
    fs::create_dir(&config).unwrap();
    open(&config, 0o755).unwrap();
    symlink(&secret, config.join("config.toml")).unwrap();
    let as_sudo = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("XDG_CONFIG_HOME", dir.path())
            .env("SUDO_UID", "65534")
            .env("SUDO_GID", "65534")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let output = as_sudo(&["events"]);
    assert!(!output.status.success());
    assert_eq!(
        stderr(&output),
        format!(
            "forkwatch-tui: {}/forkwatch/config.toml: cannot read it: Permission denied (os \
             error 13); under sudo forkwatch reads a file outside root's home as uid 65534, \
             who ran sudo\n",
            dir.path().display()
        )
    );

    // A path that starts in root's home and leaves it by `..` is outside it all the same:
    // read as them, who may not pass through /root, so not read at all.
    let roundabout = format!("/root/..{}", dir.path().display());
    let output = Command::new(BIN)
        .args(["events", "--backend", "procfs", "--duration", "0.1"])
        .env("XDG_CONFIG_HOME", &roundabout)
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = stderr(&output);
    assert!(
        output.status.success() && !said.contains("hunter2"),
        "{said}"
    );

    // A directory closed to them hides whether there is a file: the defaults.
    let closed = tempfile::tempdir().unwrap();
    write_config(closed.path(), "backend = \"hunter2\"\n");
    open(closed.path(), 0o700).unwrap();
    let output = Command::new(BIN)
        .args(["events", "--backend", "procfs", "--duration", "0.1"])
        .env("XDG_CONFIG_HOME", closed.path())
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));

    // The user's own file, which they may read, is read.
    fs::remove_file(config.join("config.toml")).unwrap();
    write_config(dir.path(), "backend = \"procfs\"\n");
    open(&config.join("config.toml"), 0o644).unwrap();
    let output = as_sudo(&["events", "--duration", "0.1"]);
    let said = stderr(&output);
    assert!(output.status.success(), "{said}");
    assert!(
        said.starts_with("forkwatch-tui: watching with procfs"),
        "{said}"
    );
}
