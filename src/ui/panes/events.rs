//! The event log pane: the latest events, newest at the bottom, as `events` prints them.

use std::collections::VecDeque;

use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Style},
    widgets::{Block, Widget},
};

use super::super::component::{Component, View};
use crate::event::{Event, Kind, text_line};

/// Events kept for the pane: more than any screen shows.
const KEPT: usize = 500;
/// Bytes the kept events may hold ([`Event::byte_size`]): still 80 events with argv and
/// file name at their caps, more than a pane shows.
const KEPT_BYTES: usize = 1 << 20;

/// The latest events.
#[derive(Debug, Default)]
pub struct RecentEvents {
    events: VecDeque<Event>,
    bytes: usize,
    /// Events let go to keep within [`KEPT_BYTES`] that the count would have kept.
    dropped_for_memory: u64,
}

impl RecentEvents {
    pub fn extend(&mut self, events: Vec<Event>) {
        let skip = events.len().saturating_sub(KEPT);
        for mut event in events.into_iter().skip(skip) {
            // A replayed exec can carry more than any live source gives.
            event.cap();
            self.bytes += event.byte_size();
            self.events.push_back(event);
        }
        while self.events.len() > KEPT || self.bytes > KEPT_BYTES {
            let too_many = self.events.len() > KEPT;
            let Some(old) = self.events.pop_front() else {
                break;
            };
            self.bytes -= old.byte_size();
            if !too_many {
                self.dropped_for_memory += 1;
            }
        }
    }

    /// The newest `n`, oldest first.
    fn last(&self, n: usize) -> impl Iterator<Item = &Event> {
        self.events.iter().skip(self.events.len().saturating_sub(n))
    }
}

/// The pane: it shows the latest events the application keeps ([`RecentEvents`]), which
/// it keeps whether the pane is open or not.
pub struct Events;

impl Component for Events {
    fn draw(&self, area: Rect, buf: &mut Buffer, view: &View) {
        let title = match view.recent.dropped_for_memory {
            0 => " Events ".to_owned(),
            n => format!(" Events ({n} older dropped for memory) "),
        };
        let block = Block::bordered().title(title);
        let inner = block.inner(area);
        block.render(area, buf);
        let width = inner.width as usize;
        let events = view.recent.last(inner.height as usize);
        for (event, y) in events.zip(inner.y..inner.bottom()) {
            buf.set_stringn(
                inner.x,
                y,
                text_line(event, view.clock),
                width,
                event_style(event),
            );
        }
    }
}

/// How an event's line looks in a log: loss reports stand out, exits recede.
pub fn event_style(event: &Event) -> Style {
    match event.kind {
        Kind::Lost { .. } => Style::new().fg(Color::Yellow),
        Kind::Exit(..) => Style::new().fg(Color::DarkGray),
        _ => Style::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Argv, MAX_ARGV_BYTES};

    #[test]
    fn keeps_the_latest() {
        let mut recent = RecentEvents::default();
        recent.extend((0..KEPT as u64 + 10).map(|ts| Event::lost(ts, 1)).collect());
        recent.extend(vec![Event::lost(10_000, 1)]);
        assert_eq!(recent.events.len(), KEPT);
        let last: Vec<u64> = recent.last(2).map(|e| e.ts_ns).collect();
        assert_eq!(last, [KEPT as u64 + 9, 10_000]);
        assert_eq!(recent.dropped_for_memory, 0);
    }

    fn exec(ts_ns: u64, argv: Argv) -> Event {
        Event {
            kind: Kind::Exec {
                filename: "/bin/true".into(),
                argv,
                argv_truncated: false,
                filename_truncated: false,
                argv_unreadable: false,
            },
            ..Event::lost(ts_ns, 0)
        }
    }

    #[test]
    fn keeps_within_its_bytes_the_oldest_leaving_first_and_counts_them() {
        let mut recent = RecentEvents::default();
        let big = || Argv::from_args(std::iter::repeat_n("", MAX_ARGV_BYTES));
        recent.extend((0..200).map(|ts| exec(ts, big())).collect());
        let kept = recent.events.len();
        assert!(recent.bytes <= KEPT_BYTES);
        assert_eq!(
            recent.bytes,
            recent.events.iter().map(Event::byte_size).sum::<usize>()
        );
        assert!((100..200).contains(&kept), "{kept}");
        assert_eq!(recent.dropped_for_memory, 200 - kept as u64);
        assert_eq!(recent.events[0].ts_ns, 200 - kept as u64, "the newest stay");

        // One replayed exec with 16 MiB of argv is cut to what a live source gives.
        recent.extend(vec![exec(500, Argv::from_area(&vec![b'x'; 16 << 20]))]);
        let last = recent.events.back().unwrap();
        assert!(last.byte_size() < 2 * MAX_ARGV_BYTES);
        assert!(matches!(
            last.kind,
            Kind::Exec {
                argv_truncated: true,
                ..
            }
        ));
    }
}
