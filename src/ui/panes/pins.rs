//! The pins pane (`P`): each pin's root, members alive, mask, the current pin's totals
//! (what its members cost, those gone included), and the events it logged. While it has the keys, the tree's pin keys act on the pin picked here.

use crate::event::host::shown_pid;
use crossterm::event::KeyEvent;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Color, Modifier, Style, Stylize},
    text::Span,
    widgets::Widget,
};

use super::{
    super::{
        component::{Ask, Component, Handled, Happened, View},
        format,
        keys::Action,
        pins::{NOTHING_PINNED, mask_text, pin_at},
    },
    events,
    list::{self, ListKey, list_key},
    tree,
};
use crate::{
    event::{ProcessKey, text_line},
    tracker::pins::Pin,
};

/// The pane's state: which pin is picked.
#[derive(Debug, Default)]
pub struct PinsPane {
    /// The pin picked, by its place in the tracker's list.
    picked: usize,
}

impl PinsPane {
    /// The current pin, by its place: the one picked while the pane has the keys, else
    /// the selected process's.
    fn current(&self, view: &View) -> Option<usize> {
        let len = view.tracker.pins().len();
        if view.focused {
            (len > 0).then(|| self.picked.min(len - 1))
        } else {
            pin_at(view.tracker, view.selected)
        }
    }
}

impl Component for PinsPane {
    fn key(&mut self, key: KeyEvent, view: &View) -> Handled {
        match list_key(key, &mut self.picked, view.tracker.pins().len()) {
            ListKey::Moved => Handled::Taken,
            // With no pin to remove, x does nothing: it must not pin the selected process.
            ListKey::Remove => match self.picked(view) {
                Some(_) => Handled::Ask(Ask::Perform(Action::Pin)),
                None => Handled::Taken,
            },
            ListKey::Show => match self.picked(view) {
                Some(root) => Handled::Ask(Ask::Show(root)),
                None => Handled::Taken,
            },
            ListKey::Other => Handled::Ignored,
        }
    }

    /// The pins, one a line, then the events of the current one.
    fn draw(&self, area: Rect, buf: &mut Buffer, view: &View) {
        let focused = view.focused;
        let block = list::block(
            " Pins ",
            focused,
            " ↑↓ pick · x remove · m mask · r relay · Enter root · Esc tree ",
        );
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.height == 0 {
            return;
        }
        let list = view.tracker.pins().list();
        let dim = Style::new().fg(Color::DarkGray);
        let width = inner.width as usize;
        if list.is_empty() {
            buf.set_stringn(inner.x, inner.y, NOTHING_PINNED, width, dim);
            return;
        }
        let current = self
            .current(view)
            .unwrap_or(self.picked.min(list.len() - 1));
        // The list takes at most half the pane, scrolled to the current pin.
        let shown = list.len().min((inner.height as usize / 2).max(1));
        let first = (current + 1).saturating_sub(shown);
        let mut y = inner.y;
        for (at, pin) in list.iter().enumerate().skip(first).take(shown) {
            let style = match (at == current, focused) {
                (true, true) => Style::new().fg(Color::Black).bg(Color::Cyan),
                (true, false) => Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
                _ => Style::new(),
            };
            pin_line(
                view,
                pin,
                Rect {
                    y,
                    height: 1,
                    ..inner
                },
                style,
                buf,
            );
            y += 1;
        }
        let pin = &list[current];
        // What the current pin's members cost, those gone included.
        if y < inner.bottom() {
            let totals = format!("totals: {}", pin.totals(view.model()).line());
            buf.set_stringn(inner.x, y, totals, width, Style::new().bold());
            y += 1;
        }
        if y >= inner.bottom() {
            return;
        }
        let mut header = match pin.log().len() {
            1 => format!("pin {} logged 1 event", shown_pid(pin.root().pid)),
            n => format!("pin {} logged {n} events", shown_pid(pin.root().pid)),
        };
        if pin.log_omitted() > 0 {
            header.push_str(&format!(" ({} older ones dropped)", pin.log_omitted()));
        }
        buf.set_stringn(inner.x, y, header, width, dim.add_modifier(Modifier::BOLD));
        let rows = (inner.bottom() - y - 1) as usize;
        let events = pin.log().skip(pin.log().len().saturating_sub(rows));
        for (event, y) in events.zip(y + 1..inner.bottom()) {
            let line = text_line(event, view.clock);
            buf.set_stringn(inner.x, y, line, width, events::event_style(event));
        }
    }

    fn picked(&self, view: &View) -> Option<ProcessKey> {
        let list = view.tracker.pins().list();
        list.get(self.picked.min(list.len().saturating_sub(1)))
            .map(Pin::root)
    }

    /// Starts at the selected process's pin.
    fn focused(&mut self, view: &View) {
        if let Some(at) = pin_at(view.tracker, view.selected) {
            self.picked = at;
        }
    }

    /// A new pin is picked.
    fn happened(&mut self, what: Happened) {
        match what {
            Happened::Pinned { at } => self.picked = at,
        }
    }
}

/// `    900 make -j2 ...     3 alive, 2 exited · every event`: the root (how it ended, if
/// it did), then the counts and the mask on the right.
fn pin_line(view: &View, pin: &Pin, line: Rect, style: Style, buf: &mut Buffer) {
    buf.set_style(line, style);
    let root = view.model().get(pin.root());
    let counts = pin.counts();
    let mut right = format!("{} alive", counts.alive);
    if counts.exited > 0 {
        right.push_str(&format!(", {} exited", counts.exited));
    }
    right.push_str(&format!(" · {}", mask_text(pin.mask())));
    let width = line.width as usize;
    let right_width = right.chars().count().min(width);
    let left_width = width.saturating_sub(right_width + 1);
    let ended = match root {
        Some(p) => p
            .exit
            .map(|e| format!("[{}] ", format::exit_label(e.status))),
        None => Some("[exited] ".to_owned()),
    };
    let mut spans = vec![Span::raw(format!("{:>7} ", shown_pid(pin.root().pid)))];
    if let Some(ended) = ended {
        spans.push(Span::raw(ended).add_modifier(Modifier::DIM));
    }
    spans.push(Span::raw(root.map(tree::command).unwrap_or_default()));
    let mut x = line.x;
    for span in spans {
        let left = (line.x + left_width as u16).saturating_sub(x) as usize;
        x = buf
            .set_stringn(x, line.y, &span.content, left, style.patch(span.style))
            .0;
    }
    buf.set_stringn(
        line.right() - right_width as u16,
        line.y,
        right,
        right_width,
        style,
    );
}

#[cfg(test)]
mod tests {
    use ratatui::{buffer::Buffer, layout::Rect};

    use super::*;
    use crate::{
        clock::WallClock,
        tracker::{
            Tracker,
            model::testing::{p, seeded},
        },
        ui::{panes::events::RecentEvents, relays::RelayNotices, users::Users},
    };

    /// The pane alone, without an application: a tracker with a pin and what it logged.
    #[test]
    fn the_pane_draws_the_pins_and_the_current_pins_log_from_a_tracker() {
        let make = p(100, 1, 1_000).named("make");
        let cc = p(101, 100, 2_000).named("cc");
        let mut tracker = Tracker::new(seeded(), 0);
        tracker.apply(&[make.fork(), make.exec(1_500, &["make", "-j2"])]);
        let (pins, model) = tracker.pins_mut();
        pins.add(model, make.key()).unwrap();
        tracker.apply(&[cc.fork(), cc.exit(3_000, 0)]);

        let (recent, notices) = (RecentEvents::default(), RelayNotices::default());
        let view = View {
            tracker: &tracker,
            clock: &WallClock::with_offset(0),
            users: &Users::with_lookup(|_| None),
            recent: &recent,
            relay_notices: &notices,
            now_ns: 4_000_000_000,
            selected: Some(make.key()),
            focused: false,
            replaying: false,
            replay_end_ns: None,
            theme: &crate::ui::look::Theme::default(),
        };
        let mut pane = PinsPane::default();
        assert_eq!(pane.picked(&view), Some(make.key()));
        let area = Rect::new(0, 0, 60, 7);
        let mut buf = Buffer::empty(area);
        pane.draw(area, &mut buf, &view);
        // Event lines start with the local time of day: only what follows is compared.
        let lines: Vec<String> = (0..area.height)
            .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol()).collect())
            .map(|line: String| match line.split_once(':') {
                // `│HH:MM:SS.uuuuuu`
                Some((hour, after)) if hour.chars().count() == 3 => after[12..].to_owned(),
                _ => line,
            })
            .collect();
        assert_eq!(
            lines,
            [
                "┌ Pins ────────────────────────────────────────────────────┐",
                "│    100 make -j2           1 alive, 1 exited · every event│",
                "│totals: 1 started, 1 ended (1 exit 0), 1 alive; CPU 0.00s │",
                "│pin 100 logged 2 events                                   │",
                " fork         pid=101 ppid=100 comm=cc     │",
                " exit         pid=101 ppid=100 comm=cc exit│",
                "└──────────────────────────────────────────────────────────┘",
            ]
        );

        // Focused, the pane takes its keys and asks for the rest.
        let focused = View {
            focused: true,
            ..view
        };
        let enter = KeyEvent::from(crossterm::event::KeyCode::Enter);
        let shown = pane.key(enter, &focused);
        assert!(matches!(shown, Handled::Ask(Ask::Show(key)) if key == make.key()));
        let x = KeyEvent::from(crossterm::event::KeyCode::Char('x'));
        let unpin = pane.key(x, &focused);
        assert!(matches!(unpin, Handled::Ask(Ask::Perform(Action::Pin))));
        let m = KeyEvent::from(crossterm::event::KeyCode::Char('m'));
        assert!(matches!(pane.key(m, &focused), Handled::Ignored));
    }
}
