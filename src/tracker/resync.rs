//! The loss → re-sync policy. After lost events the model may be wrong (an exit missed, a
//! birth missed), so it is re-synced with a fresh /proc snapshot ([`Model::reconcile`]),
//! at most once a second (the snapshot the model was seeded from counts): a loss storm
//! must not turn into a /proc storm that slows the reader and loses more.
//!
//! While the driver takes the snapshot, events are held back and applied after it, as at
//! start: the snapshot then stands for the moment it was asked for, and the events after
//! it join it without a gap. What is held is bounded by [`MAX_HELD_BYTES`]; beyond, events
//! are counted lost (and cause another re-sync). A driver that reads /proc without
//! letting events in meanwhile (the headless commands) holds nothing.
//!
//! [`Model::reconcile`]: super::model::Model::reconcile

use crate::event::{Event, Kind};

/// The least time between two re-reads of /proc, in nanoseconds.
const RESYNC_GAP_NS: u64 = 1_000_000_000;
/// Bytes the events held while a snapshot is taken may hold ([`Event::byte_size`]).
const MAX_HELD_BYTES: usize = 32 << 20;

#[derive(Debug, Default)]
pub(super) struct Resync {
    /// Events were lost since the last snapshot was asked for.
    wanted: bool,
    /// A snapshot is being taken; events wait here.
    held: Option<Vec<Event>>,
    held_bytes: usize,
    /// Events that did not fit in `held`.
    dropped: u64,
    /// When the last snapshot was asked for (or the one the model was seeded from).
    last_ns: Option<u64>,
}

impl Resync {
    /// The model was seeded from /proc at `seeded_ns`.
    pub(super) fn seeded_at(seeded_ns: u64) -> Self {
        Self {
            last_ns: Some(seeded_ns),
            ..Self::default()
        }
    }

    /// Events were lost: a re-sync is wanted.
    pub(super) fn lost(&mut self) {
        self.wanted = true;
    }

    /// When the next snapshot is due (CLOCK_BOOTTIME nanoseconds): `None` while no loss
    /// calls for one, or one is being taken.
    pub(super) fn next_ns(&self) -> Option<u64> {
        (self.wanted && self.held.is_none()).then(|| {
            self.last_ns
                .map_or(0, |last| last.saturating_add(RESYNC_GAP_NS))
        })
    }

    /// A snapshot is being taken from `now_ns`: events are held until [`Resync::release`].
    pub(super) fn start(&mut self, now_ns: u64) {
        self.wanted = false;
        self.last_ns = Some(now_ns);
        self.held = Some(Vec::new());
    }

    /// Whether a snapshot is being taken, and events are held meanwhile.
    pub(super) fn holds(&self) -> bool {
        self.held.is_some()
    }

    /// Holds `events` if a snapshot is being taken; true if so.
    pub(super) fn hold(&mut self, events: impl IntoIterator<Item = Event>) -> bool {
        let Some(held) = &mut self.held else {
            return false;
        };
        for event in events {
            let bytes = event.byte_size();
            if self.held_bytes + bytes <= MAX_HELD_BYTES {
                self.held_bytes += bytes;
                held.push(event);
            } else {
                // A loss report that does not fit still counts what it stands for.
                self.dropped += match event.kind {
                    Kind::Lost { count } => count,
                    _ => 1,
                };
            }
        }
        true
    }

    /// The snapshot is in (or could not be taken): the events held meanwhile, then a loss
    /// report at `now_ns` for those that did not fit.
    pub(super) fn release(&mut self, now_ns: u64) -> Vec<Event> {
        let mut held = self.held.take().unwrap_or_default();
        self.held_bytes = 0;
        let dropped = std::mem::take(&mut self.dropped);
        if dropped > 0 {
            held.push(Event::lost(now_ns, dropped));
        }
        held
    }
}
