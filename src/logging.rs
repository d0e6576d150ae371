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

/// Where the log goes when no `--log` is given and the usual place is not writable (a
/// user running with HOME pointing at someone else's home).
fn fallback_path() -> PathBuf {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    std::env::temp_dir().join(format!("forkwatch-{uid}.log"))
}

fn open(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Starts logging to `path`, or to the default place. The level comes from `FORKWATCH_LOG`
/// (default `info`). A `--log` file that cannot be opened is an error; when the default
/// places cannot be written the program runs without a log.
pub fn init(path: Option<&Path>) -> anyhow::Result<()> {
    let file = match path {
        Some(path) => open(path)
            .map_err(|e| anyhow::anyhow!("cannot open the log file {}: {e}", path.display()))?,
        None => match default_path().map(|p| open(&p)) {
            Some(Ok(file)) => file,
            _ => match open(&fallback_path()) {
                Ok(file) => file,
                Err(_) => return Ok(()),
            },
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
