//! Where events come from. Every consumer (headless commands, the UI, the recorder) reads
//! batches from a [`Source`], whichever backend is behind it.

use anyhow::Result;

use crate::{
    event::Event,
    probe::{Probe, ProbeOptions},
    recording::Replay,
};

/// A stream of process events.
pub enum Source {
    /// The eBPF probe: complete, ordered, with loss counted in the kernel.
    Probe(Probe),
    /// A recording played back; ends with the recording. Needs no privileges.
    Replay(Replay),
}

impl Source {
    /// Opens the live source. Must run inside a tokio runtime.
    pub fn open_live(probe_options: &ProbeOptions) -> Result<Self> {
        Ok(Self::Probe(Probe::load(probe_options)?))
    }

    /// A short name for status lines and messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Probe(_) => "eBPF",
            Self::Replay(_) => "replay",
        }
    }

    /// The replay's controls, if this is a replay.
    pub fn replay_mut(&mut self) -> Option<&mut Replay> {
        match self {
            Self::Replay(replay) => Some(replay),
            Self::Probe(_) => None,
        }
    }

    /// Waits for events and appends them to `out`. Returns false once the source has
    /// nothing more to give (a live source never ends by itself).
    pub async fn next_batch(&mut self, out: &mut Vec<Event>) -> Result<bool> {
        match self {
            Self::Probe(probe) => probe.next_batch(out).await.map(|()| true),
            Self::Replay(replay) => Ok(replay.next_batch(out).await),
        }
    }

    /// Appends what the source still holds, without waiting: the last batch before stopping.
    /// A replay holds nothing that is due.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        match self {
            Self::Probe(probe) => probe.finish(out),
            Self::Replay(_) => {}
        }
    }
}
