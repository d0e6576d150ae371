//! The event log pane: the latest events, newest at the bottom, as `events` prints them.

use std::collections::VecDeque;

use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Style},
    widgets::{Block, Widget},
};

use super::app::App;
use crate::{
    event::{Event, Kind},
    output::text_line,
};

/// Events kept for the pane: more than any screen shows.
const KEPT: usize = 500;

/// The latest events.
#[derive(Debug, Default)]
pub struct RecentEvents {
    events: VecDeque<Event>,
}

impl RecentEvents {
    pub fn extend(&mut self, events: Vec<Event>) {
        let skip = events.len().saturating_sub(KEPT);
        self.events.extend(events.into_iter().skip(skip));
        let excess = self.events.len().saturating_sub(KEPT);
        self.events.drain(..excess);
    }

    /// The newest `n`, oldest first.
    fn last(&self, n: usize) -> impl Iterator<Item = &Event> {
        self.events.iter().skip(self.events.len().saturating_sub(n))
    }
}

pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let block = Block::bordered().title(" Events ");
    let inner = block.inner(area);
    block.render(area, buf);
    let width = inner.width as usize;
    let events = app.recent.last(inner.height as usize);
    for (event, y) in events.zip(inner.y..inner.bottom()) {
        buf.set_stringn(
            inner.x,
            y,
            text_line(event, &app.clock),
            width,
            event_style(event),
        );
    }
}

/// How an event's line looks in a log: loss reports stand out, exits recede.
pub fn event_style(event: &Event) -> Style {
    match event.kind {
        Kind::Lost { .. } => Style::new().fg(Color::Yellow),
        Kind::Exit(_) => Style::new().fg(Color::DarkGray),
        _ => Style::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest() {
        let mut recent = RecentEvents::default();
        recent.extend((0..KEPT as u64 + 10).map(|ts| Event::lost(ts, 1)).collect());
        recent.extend(vec![Event::lost(10_000, 1)]);
        assert_eq!(recent.events.len(), KEPT);
        let last: Vec<u64> = recent.last(2).map(|e| e.ts_ns).collect();
        assert_eq!(last, [KEPT as u64 + 9, 10_000]);
    }
}
