//! What makes a recording unreadable: damage at a byte offset, and the reasons a file
//! cannot be replayed at all.

use std::{fmt, io};

use crate::{recording::FORMAT_VERSION, text};

/// Where a recording stops being readable, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset of the damaged frame (or of the damaged part of the file header).
    pub offset: u64,
    pub problem: String,
}

impl Damage {
    pub(super) fn new(offset: u64, problem: impl Into<String>) -> Self {
        Self {
            offset,
            problem: problem.into(),
        }
    }

    pub(super) fn truncated(offset: u64) -> Self {
        Self::new(
            offset,
            "the file ends inside a frame (was the recorder stopped abruptly, or the disk full?)",
        )
    }
}

impl fmt::Display for Damage {
    /// The problem [escaped](text::escape): a decoder's message may quote the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = text::escape_str(&self.problem);
        write!(f, "damaged at byte {}: {problem}", self.offset)
    }
}

impl std::error::Error for Damage {}

/// Why a file cannot be replayed at all.
#[derive(Debug)]
pub enum OpenError {
    NotARecording {
        hint: &'static str,
    },
    /// Written by a newer forkwatch, in this format version.
    NewerVersion(u32),
    /// Following a recording still arriving: its header, info or snapshot are not all
    /// there yet.
    NotYet,
    /// The file header, info or snapshot is damaged: there is nothing to replay.
    Damaged(Damage),
    Io(io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotARecording { hint } => write!(f, "not a forkwatch recording{hint}"),
            Self::NewerVersion(v) => write!(
                f,
                "written by a newer forkwatch (recording format {v}; this one reads up to \
                 {FORMAT_VERSION}): replay it with a newer forkwatch-tui"
            ),
            Self::Damaged(damage) => damage.fmt(f),
            Self::NotYet => f.write_str("it ends before its info and snapshot are complete"),
            Self::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<Damage> for OpenError {
    fn from(damage: Damage) -> Self {
        Self::Damaged(damage)
    }
}
