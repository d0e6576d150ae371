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

/// What keeps the live set a keyframe holds: a model of the tree fed, on the recorder's
/// thread, exactly the events written, so a keyframe says what a replay from the start
/// would know there. The recording layer does not know the model; its owner passes it in.
pub trait LiveSet: Send {
    fn apply(&mut self, event: &Event);
    /// The processes alive after every event applied, as a /proc snapshot gives them.
    fn processes(&self) -> Vec<ProcessInfo>;
}

/// What every part of a keyframe starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyframeHead {
    /// The latest time among the events before it.
    pub at_ns: u64,
    /// Event records before it (loss reports included), to count a replay's progress.
    pub events: u64,
    pub part: usize,
    pub parts: usize,
}

/// One frame of a keyframe, as read.
#[derive(Deserialize)]
pub(super) struct KeyframePart {
    #[serde(flatten)]
    pub head: KeyframeHead,
    pub processes: Vec<ProcessInfo>,
}

/// A keyframe read back: where a replay can start instead of the beginning.
#[derive(Clone, Debug)]
pub struct Keyframe {
    pub at_ns: u64,
    /// Event records before it.
    pub events: u64,
    pub processes: Arc<[ProcessInfo]>,
}
