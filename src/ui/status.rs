//! The status line at the bottom: a row of segments (the source, where a replay is,
//! process counts, lost events, the event rate with a sparkline, a recording, the filter,
//! the user shown, the flat list, the tagged processes, a note or the help hint). A new
//! segment is one more entry in [`segments`].

use std::collections::VecDeque;

use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Modifier, Style, Stylize},
    text::{Line, Span},
    widgets::Widget,
};

use super::{app::App, format, pins, record, relays};
use crate::{
    event::{container::PlaceFilter, duration::SECOND},
    text,
};

/// Seconds of event rates kept.
const RATE_SECONDS: usize = 60;
/// Seconds the sparkline shows.
const SPARKLINE_SECONDS: usize = 20;
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Events per second, second by second of the clock that ticks the application.
#[derive(Debug, Default)]
pub struct Rates {
    /// The second being counted (CLOCK_BOOTTIME seconds); `None` before the first tick.
    second: Option<u64>,
    current: u64,
    /// Completed seconds, oldest first.
    past: VecDeque<u64>,
}

impl Rates {
    pub fn count(&mut self, events: usize) {
        self.current += events as u64;
    }

    /// Completes the seconds before `now_ns`.
    pub fn roll(&mut self, now_ns: u64) {
        let now = now_ns / SECOND;
        let Some(second) = self.second else {
            self.second = Some(now);
            return;
        };
        if now <= second {
            return;
        }
        self.past.push_back(std::mem::take(&mut self.current));
        // Seconds without a tick had no events counted.
        let idle = (now - second - 1).min(RATE_SECONDS as u64);
        self.past.extend(std::iter::repeat_n(0, idle as usize));
        let excess = self.past.len().saturating_sub(RATE_SECONDS);
        self.past.drain(..excess);
        self.second = Some(now);
    }

    /// Events in the last complete second.
    pub fn last(&self) -> u64 {
        self.past.back().copied().unwrap_or(0)
    }

    /// The last `width` seconds as bars scaled to the busiest; blank for none.
    pub fn sparkline(&self, width: usize) -> String {
        let shown: Vec<u64> = self
            .past
            .iter()
            .skip(self.past.len().saturating_sub(width))
            .copied()
            .collect();
        let max = shown.iter().copied().max().unwrap_or(0).max(1);
        let pad = width - shown.len();
        let bars = shown.iter().map(|&n| match n {
            0 => ' ',
            n => BARS[(n * (BARS.len() as u64 - 1) / max) as usize],
        });
        std::iter::repeat_n(' ', pad).chain(bars).collect()
    }
}

/// The status line's segments, left to right; without the sparkline if `compact`. Text
/// that may quote a process, a recording or what was typed is [escaped](text::escape).
fn segments(app: &App, compact: bool) -> Vec<Vec<Span<'static>>> {
    let counts = app.model().counts();
    let source_style = if app.source.limited {
        Style::new().fg(Color::Yellow)
    } else {
        Style::new()
    };
    let name = text::escape_str(&app.source.name).into_owned();
    let mut source = vec![Span::styled(name, source_style)];
    if app.source_ended {
        source.push(" (ended)".dark_gray());
    }
    let mut processes = format!("{} processes", counts.alive);
    if counts.exited > 0 {
        processes.push_str(&format!(", {} exited", counts.exited));
    }
    // Exited processes the model's byte budget forgot early: their details are gone.
    if counts.dropped_for_memory > 0 {
        processes.push_str(&format!(
            ", {} dropped for memory",
            counts.dropped_for_memory
        ));
    }
    let lost = if counts.lost > 0 {
        Span::styled(
            format!("{} lost", counts.lost),
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        )
    } else {
        Span::raw("0 lost")
    };
    let mut out = vec![source];
    out.extend(app.replay.as_ref().map(|r| r.status(&app.clock, compact)));
    out.extend([vec![processes.into()], vec![lost]]);
    let rate = format!("{}/s", format::rate(app.history.rates.last()));
    out.push(if compact {
        vec![rate.into()]
    } else {
        vec![
            app.history.rates.sparkline(SPARKLINE_SECONDS).cyan(),
            format!(" {rate}").into(),
        ]
    });
    out.extend(pins::status(&app.tracker, &app.tree.pins));
    out.extend(relays::status(&app.tracker));
    out.extend(record::status(app.recording.as_ref()));
    if let Some(filter) = &app.tree.options.filter {
        out.push(vec![
            format!("filter `{}`", text::escape_str(filter)).yellow(),
        ]);
    }
    let options = &app.tree.options;
    if let Some(uid) = options.user {
        let name = app.users.name(uid).map_or(uid.to_string(), str::to_owned);
        out.push(vec![format!("user {name}").yellow()]);
    }
    out.extend(
        options
            .place
            .as_ref()
            .map(|place| vec![place_label(place).yellow()]),
    );
    if options.flat {
        out.push(vec!["flat list".yellow()]);
    }
    if !app.tree.tags.is_empty() {
        out.push(vec![format!("{} tagged", app.tree.tags.len()).yellow()]);
    }
    out.push(match &app.message {
        Some(message) => vec![text::escape_str(message).into_owned().bold()],
        None => vec!["? help".dark_gray()],
    });
    out
}

/// `container web` or `cgroup /system.slice`: what the command line asked for, escaped,
/// as it may hold anything.
fn place_label(place: &PlaceFilter) -> String {
    match place {
        PlaceFilter::Container(query) => format!("container {}", text::escape(query)),
        PlaceFilter::Cgroup(path) if path.is_empty() => "cgroup /".to_owned(),
        PlaceFilter::Cgroup(path) => format!("cgroup {}", text::escape(path)),
    }
}

/// Draws the segments separated by bars; the sparkline goes first when they do not fit.
pub fn render(app: &App, area: Rect, buf: &mut Buffer) {
    let line = |compact| {
        let mut spans = Vec::new();
        for (i, segment) in segments(app, compact).into_iter().enumerate() {
            if i > 0 {
                spans.push(" │ ".dark_gray());
            }
            spans.extend(segment);
        }
        Line::from(spans)
    };
    let full = line(false);
    if full.width() <= area.width as usize {
        full.render(area, buf);
    } else {
        line(true).render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_count_by_second_and_fill_idle_seconds() {
        let mut rates = Rates::default();
        rates.roll(10 * SECOND);
        rates.count(100);
        rates.roll(10 * SECOND + 500_000_000);
        rates.count(50);
        assert_eq!(rates.last(), 0, "the first second is not complete");
        rates.roll(11 * SECOND);
        assert_eq!(rates.last(), 150);
        rates.count(7);
        rates.roll(14 * SECOND);
        assert_eq!(rates.past, [150, 7, 0, 0]);
        assert_eq!(rates.sparkline(6), "  █▁  ");
        rates.roll(1_000 * SECOND);
        assert_eq!(rates.past.len(), RATE_SECONDS);
    }
}
