//! Where events come from. Every consumer (headless commands, the UI, the recorder) reads
//! batches from a [`Source`], whichever backend is behind it.

use anyhow::Result;

use crate::{
    event::Event,
    probe::{Probe, ProbeOptions},
};

/// A stream of process events.
pub enum Source {
    /// The eBPF probe: complete, ordered, with loss counted in the kernel.
    Probe(Probe),
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
        }
    }

    /// Waits for events and appends them to `out`. Returns false once the source has
    /// nothing more to give (a live source never ends by itself).
    pub async fn next_batch(&mut self, out: &mut Vec<Event>) -> Result<bool> {
        match self {
            Self::Probe(probe) => probe.next_batch(out).await.map(|()| true),
        }
    }

    /// Appends what the source still holds, without waiting: the last batch before stopping.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        match self {
            Self::Probe(probe) => probe.finish(out),
        }
    }
}
