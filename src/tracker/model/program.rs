//! What a process runs: its file name and argv, shared between a parent and the children it
//! forks until they exec, each cut to what one program may hold.

use std::sync::{Arc, LazyLock, atomic::AtomicU32};

use crate::event::{Argv, ByteString, MAX_ARGV_BYTES, MAX_FILENAME_BYTES};

/// The program a process runs. Shared between a parent and the children it forks until
/// they exec.
#[derive(Debug, Default)]
pub struct Program {
    /// The file exec'd; `None` when the program is known only from /proc or not at all.
    pub filename: Option<ByteString>,
    /// Empty when unknown (kernel threads, or a process first seen by its exit).
    pub argv: Argv,
    /// The argv was cut: by the source, or here at [`MAX_ARGV_BYTES`].
    pub argv_truncated: bool,
    /// The file name was cut here at [`MAX_FILENAME_BYTES`] (an exec's own flag says
    /// whether the source cut it).
    pub filename_truncated: bool,
    /// The argv as the tree shows it ([`Argv::joined`], escaped) and lowercased, for a
    /// search that ignores case: what is on the screen is what a search finds; at most
    /// [`MAX_ARGV_BYTES`]. Made once here rather than by the search, and counted with
    /// the program in the byte budget of exited processes.
    pub(super) search: String,
    /// Exited processes that hold it, for the byte budget (see `memory`).
    pub(super) holders: AtomicU32,
}

impl Program {
    /// A program as a source reported it, cut to what one program may hold.
    pub(super) fn new(filename: Option<ByteString>, argv: Argv, argv_truncated: bool) -> Self {
        let cut_file = filename.as_ref().and_then(|f| f.cut(MAX_FILENAME_BYTES));
        let filename_truncated = cut_file.is_some();
        let filename = cut_file.or(filename);
        let cut_argv = argv.cut(MAX_ARGV_BYTES);
        let argv_truncated = argv_truncated || cut_argv.is_some();
        let argv = cut_argv.unwrap_or(argv);
        let mut search = argv.joined();
        if search.is_ascii() {
            search.make_ascii_lowercase();
        } else {
            search = search.to_lowercase();
        }
        // Escapes and some lowercase letters take more room than they did.
        if search.len() > MAX_ARGV_BYTES {
            search.truncate(search.floor_char_boundary(MAX_ARGV_BYTES));
            search.shrink_to_fit();
        }
        Self {
            filename,
            argv,
            argv_truncated,
            filename_truncated,
            search,
            holders: AtomicU32::new(0),
        }
    }

    /// The argv as the tree shows it, lowercased (see the field `search`).
    pub fn search_text(&self) -> &str {
        &self.search
    }

    pub(super) fn unknown() -> Arc<Self> {
        static UNKNOWN: LazyLock<Arc<Program>> = LazyLock::new(Arc::default);
        UNKNOWN.clone()
    }
}
