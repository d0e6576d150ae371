//! The log goes to a file, never to the terminal the UI draws on.

use std::{
    fs::DirBuilder,
    os::unix::{ffi::OsStrExt, fs::DirBuilderExt},
    path::{Path, PathBuf},
};

use tracing_subscriber::EnvFilter;

use crate::{private_file, text};

/// `$XDG_STATE_HOME/forkwatch/forkwatch.log`, or `~/.local/state/forkwatch/forkwatch.log`.
fn default_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))?;
    Some(state.join("forkwatch").join("forkwatch.log"))
}

/// Opens the log at `path` for appending ([`private_file::append`]), making the
/// directories it needs, each private (0700).
fn open(path: &Path) -> anyhow::Result<std::fs::File> {
    let shown = text::escape(path.as_os_str().as_bytes());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| anyhow::anyhow!("cannot make the log's directory for {shown}: {e}"))?;
    }
    private_file::append(path).map_err(|e| anyhow::anyhow!("cannot open the log file {shown}: {e}"))
}

/// Starts logging to `path`, or to the default place. The level comes from `FORKWATCH_LOG`
/// (default `info`). A `--log` file that cannot be opened is an error; when the default
/// place cannot be (a user whose HOME is someone else's), the program runs without a log.
pub fn init(path: Option<&Path>) -> anyhow::Result<()> {
    let file = match path {
        Some(path) => open(path)?,
        None => match default_path().map(|path| open(&path)) {
            Some(Ok(file)) => file,
            _ => return Ok(()),
        },
    };
    let filter =
        EnvFilter::try_from_env("FORKWATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .init();
    Ok(())
}
