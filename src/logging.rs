//! The log goes to a file, never to the terminal the UI draws on.

use std::path::{Path, PathBuf};

use tracing_subscriber::EnvFilter;

/// `$XDG_STATE_HOME/forkwatch/forkwatch.log`, or `~/.local/state/forkwatch/forkwatch.log`.
fn default_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/state")))?;
    Some(state.join("forkwatch").join("forkwatch.log"))
}

/// Starts logging to `path` (or the default). The level comes from `FORKWATCH_LOG`
/// (default `info`). A log that cannot be opened is reported once and then not written.
pub fn init(path: Option<&Path>) {
    let Some(path) = path.map(Path::to_path_buf).or_else(default_path) else {
        return;
    };
    let file = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
        });
    match file {
        Ok(file) => {
            let filter =
                EnvFilter::try_from_env("FORKWATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
            tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file))
                .init();
        }
        Err(e) => eprintln!(
            "forkwatch-tui: not logging: cannot open {}: {e}",
            path.display()
        ),
    }
}
