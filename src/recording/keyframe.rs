//! Keyframes: the processes alive at a moment, written now and then among the events so
//! that a reader can start there (`replay --tree-at`) instead of replaying from the
//! beginning. They are optional frames (docs/recording.md): a reader that skips them
//! misses nothing, as they only repeat what the events before them say.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{event::Event, proc::snapshot::ProcessInfo};

/// A keyframe is written once this many events have been written since the last one...
pub const KEYFRAME_EVENTS: u64 = 500_000;
/// ...and the file has grown by this many times the last keyframe's size, so that a large
/// live set on a machine with few events does not fill the file with keyframes.
pub const KEYFRAME_GROWTH: u64 = 8;

/// The processes alive at a moment, with what a snapshot has no place for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Alive {
    pub processes: Vec<ProcessInfo>,
    /// The pids of those known to be subreapers: the orphans below them go to them.
    pub subreapers: Vec<u32>,
    /// The pids of those whose credentials no source gave (their `creds` are 0 here).
    pub without_creds: Vec<u32>,
}

/// What keeps the live set a keyframe holds: a model of the tree fed, on the recorder's
/// thread, exactly the events written, so a keyframe says what a replay from the start
/// would know there. The recording layer does not know the model; its owner passes it in.
pub trait LiveSet: Send {
    fn apply(&mut self, event: &Event);
    /// The processes alive after every event applied.
    fn alive(&self) -> Alive;
}

/// What every part of a keyframe starts with; the first part also names the subreapers
/// and the processes without credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(super) struct KeyframeHead {
    /// The latest time among the events before it.
    pub at_ns: u64,
    /// Event records before it (loss reports included), to count a replay's progress.
    pub events: u64,
    pub part: usize,
    pub parts: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subreapers: Vec<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub without_creds: Vec<u32>,
}

/// One frame of a keyframe, as read. Plain fields: a reader keeps nothing of a field it
/// does not know.
#[derive(Deserialize)]
pub(super) struct KeyframePart {
    pub at_ns: u64,
    pub events: u64,
    pub part: usize,
    pub parts: usize,
    #[serde(default)]
    pub subreapers: Vec<u32>,
    #[serde(default)]
    pub without_creds: Vec<u32>,
    pub processes: Vec<ProcessInfo>,
}

/// A keyframe read back: where a replay can start instead of the beginning.
#[derive(Clone, Debug)]
pub struct Keyframe {
    pub at_ns: u64,
    /// Event records before it.
    pub events: u64,
    pub processes: Arc<[ProcessInfo]>,
    /// As in [`Alive`].
    pub subreapers: Vec<u32>,
    pub without_creds: Vec<u32>,
}
