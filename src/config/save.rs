//! Writing the columns chosen in the UI into the config file, `columns = [...]`, and
//! nothing else: the rest of the file (comments, order, other settings) is kept as it is
//! (`toml_edit`).
//!
//! - As the user the file is read as (under sudo, the one who ran it, for a file outside
//!   root's home: [`privileges::files_as`]), so the file stays theirs.
//! - Atomically: a new file in the same directory, written, synced and renamed over the
//!   old one, so a crash leaves the old file or the new one, never half of one.
//! - A symbolic link is refused and left as it is: writing through it would change a file
//!   somewhere else; replacing it would undo what made it (a dotfile manager).
//! - Permissions are never widened: a new file is 0600 and a new directory 0700; a file
//!   replaced keeps its mode, less what group and others could write.

use std::{
    fs::{self, DirBuilder, File, OpenOptions, Permissions},
    io::{self, Read, Write},
    os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt},
    path::Path,
};

use toml_edit::{Array, DocumentMut, value};

use super::MAX_BYTES;
use crate::{
    privileges::{self, User},
    text,
    ui::look::Column,
};

/// Sets `columns` in the config file at `path` (made, with its directory, if missing), as
/// `user` if given. The error is one line naming the file.
pub fn save_columns(path: &Path, user: Option<&User>, columns: &[Column]) -> Result<(), String> {
    let saved = privileges::files_as(user, || write_columns(path, columns)).and_then(|r| r);
    saved.map_err(|e| {
        format!(
            "cannot save the columns in {}: {e}",
            text::escape_path(path)
        )
    })
}

fn write_columns(path: &Path, columns: &[Column]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("it has no directory"))?;
    DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let (text, mode) = match read_existing(path)? {
        Some((text, mode)) => (text, mode),
        None => (String::new(), 0o600),
    };
    let mut document: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| io::Error::other(e.message().to_owned()))?;
    let names: Array = columns.iter().map(|c| c.name()).collect();
    document["columns"] = value(names);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("it has no file name"))?;
    let temporary = dir.join(format!(
        ".{}.{}.new",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = write_new(&temporary, document.to_string().as_bytes(), mode)
        .and_then(|()| fs::rename(&temporary, path));
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}

/// The text and mode of the file at `path`; `None` if there is none. A symbolic link, or
/// anything but a regular file, is refused.
fn read_existing(path: &Path) -> io::Result<Option<(String, u32)>> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file = match file {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(io::Error::other(
                "it is a symbolic link; edit the file it points to instead",
            ));
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
    // Never wider than it was, and never writable by others.
    Ok(Some((text, metadata.mode() & 0o755)))
}

/// Creates `path`, which must not exist (not even as a link), with `bytes`, mode `mode`.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file: File = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)?;
    file.write_all(bytes)?;
    // Set on the descriptor: the umask left the creation mode at most 0600.
    file.set_permissions(Permissions::from_mode(mode))?;
    file.sync_all()
}
