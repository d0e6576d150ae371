//! The config file, `$XDG_CONFIG_HOME/forkwatch/config.toml` (else
//! `$HOME/.config/forkwatch/config.toml`): the tree's columns, the UI's styles and colour,
//! how long exited processes stay, the default backend, and key bindings. Flags on the
//! command line win over it.
//!
//! - It is read through a symbolic link (dotfile managers make them), but only a regular
//!   file of at most [`MAX_BYTES`]; a missing file is the defaults. It is written only to
//!   save the columns chosen in the UI ([`save`]), never through a link.
//! - Under sudo it is the file of the environment forkwatch runs in: root's with sudo's
//!   usual reset environment (HOME=/root), the user's with `sudo -E`. A file outside
//!   root's home is read as the user who ran sudo ([`privileges::files_as`]), so that it
//!   cannot be a link to a file only root may read, quoted back in an error.
//! - A mistake (TOML syntax, an unknown key, a bad value) is one [`ConfigError`] line
//!   naming the file, the line and the key; `--ignore-config` starts with the defaults.
//! - `[keys]` is kept as written, with where each name is, for the key bindings to check
//!   against their actions ([`Config::error_at`] words what they find wrong).

use std::{
    collections::BTreeMap,
    ffi::OsStr,
    fmt,
    fs::{File, OpenOptions},
    io::{self, Read},
    ops::Range,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use toml::{
    Spanned,
    de::{DeTable, DeValue},
};

use crate::{
    event::duration,
    privileges::{self, User},
    remote::RemoteOptions,
    source::BackendChoice,
    tracker::model,
    ui::look::{Column, Look, Theme, parse_style},
};

/// The largest config file read.
pub const MAX_BYTES: u64 = 1 << 20;

/// The longest linger: a day (memory is bounded whatever it is; this bounds the number).
const MAX_LINGER_NS: u64 = 24 * 3_600 * duration::SECOND;

/// The file as written: each setting optional, each value still text with where it is.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    columns: Option<Vec<Spanned<String>>>,
    colour: Option<Spanned<String>>,
    colours: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
    linger: Option<Spanned<String>>,
    backend: Option<Spanned<String>>,
    keys: Option<BTreeMap<Spanned<String>, Vec<Spanned<String>>>>,
    remote: Option<WrittenRemote>,
}

/// `[remote]`: how `--remote` reaches a host.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenRemote {
    ssh: Option<Spanned<Vec<String>>>,
    command: Option<Spanned<String>>,
}

/// `colour`: whether the UI has colours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColourChoice {
    /// Colours unless `NO_COLOR` is set and not empty (<https://no-color.org>).
    #[default]
    Auto,
    Always,
    Never,
}

/// One line of `[keys]`: an action and the keys bound to it, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub action: Spanned<String>,
    pub keys: Vec<Spanned<String>>,
}

/// The settings of the config file, checked; the defaults for those it does not give.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// The tree's columns and the styles of what it marks, colour aside.
    pub look: Look,
    pub colour: ColourChoice,
    /// How long an exited process stays in the tree, in nanoseconds.
    pub linger_ns: Option<u64>,
    /// What `--backend` is when not given.
    pub backend: Option<BackendChoice>,
    /// `[keys]`, in the order of the actions' names.
    pub keys: Vec<Binding>,
    /// `[remote]`: the ssh command and the command it runs there.
    pub remote: RemoteOptions,
    /// The file and its text, to say where a mistake is.
    file: Option<(PathBuf, String)>,
}

/// A mistake in the config file, said as one line: `FILE:LINE: KEY: what is wrong`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub path: PathBuf,
    /// The line (from 1), when the mistake is in the text.
    pub line: Option<usize>,
    /// The key, dotted (`colours.selection`), when the mistake is in a setting.
    pub key: Option<String>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        // One line, whatever the parser said.
        let message = self
            .message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        write!(f, ": {message}")
    }
}

impl std::error::Error for ConfigError {}

/// Where the config file is for an environment with these `XDG_CONFIG_HOME` and `HOME`
/// (relative ones are ignored, as the XDG spec says); `None` if neither is usable.
pub fn path(xdg_config_home: Option<&OsStr>, home: Option<&OsStr>) -> Option<PathBuf> {
    let xdg = xdg_config_home.map(Path::new).filter(|d| d.is_absolute());
    let base = match xdg {
        Some(dir) => dir.to_owned(),
        None => Path::new(home?).join(".config"),
    };
    if !base.is_absolute() {
        return None;
    }
    Some(base.join("forkwatch").join("config.toml"))
}

/// Where the config file of this process's environment is, and whom it is read and
/// written as (see the module); `None` if the environment names no place for it.
pub fn location() -> Option<(PathBuf, Option<User>)> {
    let xdg = std::env::var_os("XDG_CONFIG_HOME");
    let home = std::env::var_os("HOME");
    let path = path(xdg.as_deref(), home.as_deref())?;
    // A `..` could lead out of root's home while the path still starts with it.
    let in_root_home = privileges::root_home().is_some_and(|home| path.starts_with(home))
        && !path
            .components()
            .any(|c| c == std::path::Component::ParentDir);
    let user = privileges::sudo_user().filter(|_| !in_root_home);
    Some((path, user))
}

impl Config {
    /// The config of this process's environment: its file if there is one, else the
    /// defaults.
    pub fn load() -> Result<Self, ConfigError> {
        let Some((path, user)) = location() else {
            return Ok(Self::default());
        };
        Self::read_as(&path, user.as_ref())
    }

    /// The config in the file at `path`, read as forkwatch runs; the defaults if there is
    /// none.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        Self::read_as(path, None)
    }

    /// The config in the file at `path` (read as `user` if given); the defaults if there is
    /// none.
    pub fn read_as(path: &Path, user: Option<&User>) -> Result<Self, ConfigError> {
        let error = |message: String| ConfigError {
            path: path.to_owned(),
            line: None,
            key: None,
            message,
        };
        match privileges::files_as(user, || read_text(path)).and_then(|read| read) {
            Ok(Some((text, owner))) => {
                let config = Self::parse(path, text)?;
                let trusted = [0, rustix::process::geteuid().as_raw()]
                    .into_iter()
                    .chain(privileges::sudo_user().map(|u| u.uid.as_raw()));
                config.runs_only_for(owner, trusted.collect())?;
                Ok(config)
            }
            Ok(None) => Ok(Self::default()),
            Err(e) => Err(error(format!("cannot read it: {}", reading(&e, user)))),
        }
    }

    /// Refuses a `[remote]` from a file owned by `owner` unless it is one of `trusted`:
    /// it names the program `--remote` runs, as forkwatch's user or the one who ran sudo.
    pub fn runs_only_for(&self, owner: u32, trusted: Vec<u32>) -> Result<(), ConfigError> {
        if self.remote == RemoteOptions::default() || trusted.contains(&owner) {
            return Ok(());
        }
        let (path, _) = self.file.clone().unwrap_or_default();
        Err(ConfigError {
            path,
            line: None,
            key: Some("remote".to_owned()),
            message: format!(
                "the file is uid {owner}'s: its [remote] would run a program of theirs as you"
            ),
        })
    }

    /// The config that `text`, the file at `path`, sets.
    pub fn parse(path: &Path, text: String) -> Result<Self, ConfigError> {
        let written = toml::from_str::<Written>(&text);
        let mut config = Self {
            file: Some((path.to_owned(), text)),
            ..Self::default()
        };
        match written {
            Ok(written) => config.take(written)?,
            Err(e) => return Err(config.error_at(e.span().unwrap_or(0..0), e.message())),
        }
        Ok(config)
    }

    /// A mistake at `span` of the file (a key or a value, as [`Spanned::span`] gives
    /// it), said as one line naming the file, the line and the key there.
    pub fn error_at(&self, span: Range<usize>, message: impl fmt::Display) -> ConfigError {
        let (path, text) = match &self.file {
            Some((path, text)) => (path.clone(), text.as_str()),
            None => (PathBuf::new(), ""),
        };
        let start = span.start.min(text.len());
        let line = text.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        // What could be parsed, so that a syntax error names its key too.
        let (table, _) = DeTable::parse_recoverable(text);
        let key = key_at(table.get_ref(), &span).or_else(|| key_on_line(text, start));
        ConfigError {
            path,
            line: Some(line + 1),
            key,
            message: message.to_string(),
        }
    }

    /// Checks `[keys]` with `check` (e.g. the keymap made with them), given the bindings as
    /// (action, keys) in the order of the actions' names. What it refuses is said at the binding where
    /// the check first fails, the action's name or one of its keys, found by checking
    /// ever longer beginnings of `[keys]` (a failure stays one as bindings are added).
    pub fn check_keys<T>(
        &self,
        check: impl Fn(&[(&str, Vec<&str>)]) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let all: Vec<(&str, Vec<&str>)> = (self.keys.iter())
            .map(|b| {
                (
                    b.action.get_ref().as_str(),
                    b.keys.iter().map(|k| k.get_ref().as_str()).collect(),
                )
            })
            .collect();
        let message = match check(&all) {
            Ok(checked) => return Ok(checked),
            Err(message) => message,
        };
        // Each beginning: the bindings before binding `i`, and its first `j` keys.
        let beginnings: Vec<(usize, usize)> = (all.iter().enumerate())
            .flat_map(|(i, (_, keys))| (0..=keys.len()).map(move |j| (i, j)))
            .collect();
        let passes = |&(i, j): &(usize, usize)| {
            let mut part = all[..i].to_vec();
            part.push((all[i].0, all[i].1[..j].to_vec()));
            check(&part).is_ok()
        };
        let span = match beginnings.get(beginnings.partition_point(passes)) {
            Some(&(i, 0)) => self.keys[i].action.span(),
            Some(&(i, j)) => self.keys[i].keys[j - 1].span(),
            None => 0..0,
        };
        Err(self.error_at(span, message))
    }

    /// How the UI looks, colour decided with `no_color`, the value of `NO_COLOR`.
    pub fn look(&self, no_color: Option<&OsStr>) -> Look {
        let colour = match self.colour {
            ColourChoice::Always => true,
            ColourChoice::Never => false,
            ColourChoice::Auto => no_color.is_none_or(OsStr::is_empty),
        };
        Look {
            colour,
            ..self.look.clone()
        }
    }

    /// The model's limits: the defaults, with the linger set.
    pub fn model(&self) -> model::Config {
        model::Config {
            linger_ns: self.linger_ns.unwrap_or(model::DEFAULT_LINGER_NS),
            ..model::Config::default()
        }
    }

    /// Checks the values written and keeps them.
    fn take(&mut self, written: Written) -> Result<(), ConfigError> {
        if let Some(columns) = written.columns {
            self.look.columns = self.columns(&columns)?;
        }
        if let Some(colour) = written.colour {
            self.colour = match colour.get_ref().as_str() {
                "auto" => ColourChoice::Auto,
                "always" => ColourChoice::Always,
                "never" => ColourChoice::Never,
                other => {
                    return Err(
                        self.bad(&colour, format!("\"{other}\" is not auto, always or never"))
                    );
                }
            };
        }
        for (name, style) in written.colours.iter().flatten() {
            let parsed = parse_style(style.get_ref()).map_err(|e| self.bad(style, e))?;
            let Some(slot) = self.look.theme.style_mut(name.get_ref()) else {
                let names = Theme::names().join(", ");
                return Err(self.bad(name, format!("no such style; the styles are {names}")));
            };
            *slot = parsed;
        }
        if let Some(linger) = written.linger {
            let ns = duration::parse(linger.get_ref()).filter(|&ns| ns <= MAX_LINGER_NS);
            let why = || {
                format!(
                    "invalid duration \"{}\" (e.g. \"5s\", \"500ms\", \"2m\"; at most a day)",
                    linger.get_ref()
                )
            };
            self.linger_ns = Some(ns.ok_or_else(|| self.bad(&linger, why()))?);
        }
        if let Some(backend) = written.backend {
            self.backend = Some(match backend.get_ref().as_str() {
                "auto" => BackendChoice::Auto,
                "ebpf" => BackendChoice::Ebpf,
                "netlink" => BackendChoice::Netlink,
                "procfs" => BackendChoice::Procfs,
                other => {
                    let why = format!("\"{other}\" is not auto, ebpf, netlink or procfs");
                    return Err(self.bad(&backend, why));
                }
            });
        }
        if let Some(remote) = written.remote {
            self.take_remote(remote)?;
        }
        self.keys = (written.keys.into_iter().flatten())
            .map(|(action, keys)| Binding { action, keys })
            .collect();
        Ok(())
    }

    /// `[remote]`: an ssh command of one word at least, a remote command that is not empty.
    fn take_remote(&mut self, remote: WrittenRemote) -> Result<(), ConfigError> {
        if let Some(ssh) = remote.ssh {
            if ssh
                .get_ref()
                .first()
                .is_none_or(|program| program.is_empty())
            {
                return Err(self.bad(&ssh, "the ssh command needs a program, e.g. [\"ssh\"]"));
            }
            self.remote.ssh = ssh.into_inner();
        }
        if let Some(command) = remote.command {
            if command.get_ref().trim().is_empty() {
                return Err(self.bad(&command, "the remote command is empty"));
            }
            self.remote.command = command.into_inner();
        }
        Ok(())
    }

    /// `columns`: known names, each once, the command last (added if left out).
    fn columns(&self, written: &[Spanned<String>]) -> Result<Vec<Column>, ConfigError> {
        let mut columns = Vec::with_capacity(written.len() + 1);
        for name in written {
            let column = Column::named(name.get_ref()).ok_or_else(|| {
                let names: Vec<_> = Column::ALL.map(Column::name).into();
                let why = format!(
                    "unknown column \"{}\"; the columns are {}",
                    name.get_ref(),
                    names.join(", ")
                );
                self.bad(name, why)
            })?;
            if columns.contains(&column) {
                return Err(self.bad(name, format!("\"{}\" is listed twice", name.get_ref())));
            }
            if columns.last() == Some(&Column::Command) {
                return Err(self.bad(name, "\"command\" must be the last column"));
            }
            columns.push(column);
        }
        if columns.last() != Some(&Column::Command) {
            columns.push(Column::Command);
        }
        Ok(columns)
    }

    fn bad<T>(&self, value: &Spanned<T>, message: impl fmt::Display) -> ConfigError {
        self.error_at(value.span(), message)
    }
}

/// The dotted key whose key or value holds `span` in `table`, the innermost one. A table's
/// own span may not cover its keys (`[colours]` and the lines below), so every table is
/// looked into.
fn key_at(table: &DeTable<'_>, span: &Range<usize>) -> Option<String> {
    let within = |outer: Range<usize>| outer.contains(&span.start) || outer.start == span.start;
    table.iter().find_map(|(key, value)| {
        let inner = match value.get_ref() {
            DeValue::Table(inner) => key_at(inner, span),
            DeValue::Array(items) => items.iter().find_map(|item| match item.get_ref() {
                DeValue::Table(inner) => key_at(inner, span),
                _ => None,
            }),
            _ => None,
        };
        match inner {
            Some(inner) => Some(format!("{}.{inner}", key.get_ref())),
            None if within(key.span()) || within(value.span()) => Some(key.get_ref().to_string()),
            None => None,
        }
    })
}

/// The key that the line holding byte `at` of `text` sets (`name = ...`), under the table
/// header above it: for a syntax error, which the parser ties to no key.
fn key_on_line(text: &str, at: usize) -> Option<String> {
    let before = text.as_bytes().get(..at)?;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let (key, _) = text[line_start..].lines().next()?.split_once('=')?;
    let key = key.trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
    if key.is_empty() || !key.chars().all(bare) {
        return None;
    }
    let header = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| line.starts_with('['));
    Some(match header.map(|h| h.trim_matches(['[', ']']).trim()) {
        Some(table) => format!("{table}.{key}"),
        None => key.to_owned(),
    })
}

/// `e`, met reading the file as `user`, said with who that is.
fn reading(e: &io::Error, user: Option<&User>) -> String {
    match user {
        Some(user) if e.raw_os_error() == Some(libc::EACCES) => format!(
            "{e}; under sudo forkwatch reads a file outside root's home as uid {}, who ran sudo",
            user.uid.as_raw()
        ),
        _ => e.to_string(),
    }
}

/// The text of the file at `path` and its owner; `None` if there is none, or none this
/// user can see. Not a fifo or a device (opened without waiting, then looked at), and at
/// most [`MAX_BYTES`].
fn read_text(path: &Path) -> io::Result<Option<(String, u32)>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file: File = match file {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // A directory on the way closed to this user (HOME=/root kept by `su`, a test run
        // as nobody): no file to speak of. A file there that it may not read is an error.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return match std::fs::symlink_metadata(path) {
                Err(closed) if closed.kind() == io::ErrorKind::PermissionDenied => Ok(None),
                _ => Err(e),
            };
        }
        other => other?,
    };
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(io::Error::other("it is not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_BYTES {
        return Err(io::Error::other(format!(
            "it is larger than {MAX_BYTES} bytes"
        )));
    }
    Ok(Some((text, std::os::unix::fs::MetadataExt::uid(&metadata))))
}

pub mod save;

#[cfg(test)]
mod tests;
