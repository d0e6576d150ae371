//! What the UI keeps of what happened, besides the tracker's model: the event rate, the
//! latest events and what the relay rules said, kept whether or not a pane shows them.

use super::{panes::events::RecentEvents, relays::RelayNotices, status::Rates};
use crate::event::{Event, Kind};

/// The event rate, the latest events and the relay rules' notices.
#[derive(Debug)]
pub struct History {
    pub rates: Rates,
    pub recent: RecentEvents,
    pub relay_notices: RelayNotices,
}

impl History {
    /// Counting from `now_ns` (CLOCK_BOOTTIME).
    pub fn new(now_ns: u64) -> Self {
        let mut rates = Rates::default();
        rates.roll(now_ns);
        Self {
            rates,
            recent: RecentEvents::default(),
            relay_notices: RelayNotices::default(),
        }
    }

    /// Counts and keeps a batch the tracker applied; returns how many of its events
    /// report losses (which the rate does not count).
    pub fn took_in(&mut self, events: Vec<Event>) -> usize {
        let lost = events
            .iter()
            .filter(|e| matches!(e.kind, Kind::Lost { .. }))
            .count();
        self.rates.count(events.len() - lost);
        self.recent.extend(events);
        lost
    }

    /// Starts again at `now_ns`, as a replay does that went back: the rate and the latest
    /// events go, what the relay rules said stays.
    pub fn restart(&mut self, now_ns: u64) {
        let notices = std::mem::take(&mut self.relay_notices);
        *self = Self::new(now_ns);
        self.relay_notices = notices;
    }
}
