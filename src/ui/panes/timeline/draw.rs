//! Drawing the timeline from what `prepare` laid out: the summary row (when any member
//! ran, idle gaps shaded), the visible rows (a label and a bar each), and the axis. Only
//! the visible rows are read; each bar is found from its row's two times.

use crate::event::host::shown_pid;
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Modifier, Style},
    widgets::{Block, Widget},
};

use super::{Timeline, members::Member, window::Window};
use crate::{
    event::ExitStatus,
    ui::{
        component::View,
        look::Theme,
        panes::{list, tree::command},
    },
};

const KEYS: &str = " ↑↓ pick · + - zoom · ← → pan · click the axis: seek · Esc tree ";
/// The summary row's cells: some member runs, or none does (an idle gap).
const BUSY: char = '━';
const IDLE: char = '░';

/// The pane's frame: the keys at the bottom while it has them.
pub(super) fn block(focused: bool) -> Block<'static> {
    list::block(" Timeline ", focused, KEYS)
}

pub(super) fn draw(timeline: &Timeline, area: Rect, buf: &mut Buffer, view: &View) {
    block(view.focused).render(area, buf);
    let frame = &timeline.frame;
    let inner = frame.inner;
    if inner.height == 0 || inner.width == 0 {
        return;
    }
    let theme = view.theme;
    let rows = timeline.members.rows();
    if rows.is_empty() {
        let why = match timeline.members.root() {
            Some(root) => format!(
                "pid {} is not in the tree: T T on another",
                shown_pid(root.pid)
            ),
            None => "no process selected".to_owned(),
        };
        buf.set_stringn(inner.x, inner.y, why, inner.width as usize, theme.faint);
        return;
    }
    let label = frame.bars.x - inner.x;
    let summary = match rows.len() {
        1 => format!("1 process, idle {IDLE}"),
        n => format!("{n} processes, idle {IDLE}"),
    };
    buf.set_stringn(inner.x, inner.y, summary, label as usize, theme.faint);
    let Some(window) = frame.window else {
        return;
    };
    for x in 0..window.cells {
        let (from, to) = window.times(x);
        // After now (in a replay: what is still to come), nothing is known yet.
        if from >= view.now_ns {
            break;
        }
        let busy = timeline.members.busy_within(from, to.min(view.now_ns));
        let cell = if busy { BUSY } else { IDLE };
        buf[(frame.bars.x + x, inner.y)]
            .set_char(cell)
            .set_style(theme.faint);
    }
    let shown = rows.iter().enumerate().skip(frame.top);
    for ((at, member), y) in shown.zip(inner.y + 1..frame.axis_y()) {
        let line = Rect {
            y,
            height: 1,
            ..inner
        };
        let cursor = frame.cursor_at == Some(at);
        draw_row(timeline, (member, cursor), line, buf, view);
    }
    draw_axis(&window, frame.bars, frame.axis_y(), buf, view);
}

/// A row: its pid and command, indented as in the tree, then its bar.
fn draw_row(
    timeline: &Timeline,
    (member, cursor): (&Member, bool),
    line: Rect,
    buf: &mut Buffer,
    view: &View,
) {
    let theme = view.theme;
    let frame = &timeline.frame;
    let width = (frame.bars.x - line.x) as usize;
    let marked = timeline.members.is_critical(member.key);
    let mut style = if member.exit.is_some() {
        theme.exited
    } else {
        Style::new()
    };
    if marked {
        style = style.patch(theme.matched);
    }
    if cursor {
        style = style.patch(theme.selection);
    }
    let name = match (&member.gone, view.model().get(member.key)) {
        (Some(kept), _) => kept.clone(),
        (None, Some(process)) => command(process),
        (None, None) => String::new(),
    };
    let indent = "   ".repeat(usize::from(member.depth).min(width / 6));
    let mark = if marked { '»' } else { ' ' };
    let text = format!("{:>7}{mark}{indent}{name}", shown_pid(member.key.pid));
    buf.set_style(
        Rect {
            width: width as u16,
            ..line
        },
        style,
    );
    buf.set_stringn(line.x, line.y, text, width.saturating_sub(1), style);
    let Some(window) = frame.window else {
        return;
    };
    // In a replay, a line where it is, behind the bars.
    if view.replaying
        && let Some(x) = window.cell(view.now_ns)
    {
        buf[(frame.bars.x + x, line.y)]
            .set_char('┊')
            .set_style(theme.faint);
    }
    let end = member.end_ns().unwrap_or(view.now_ns).max(member.start_ns);
    let Some((first, last)) =
        window.cells_of(member.start_ns, end.max(member.start_ns.saturating_add(1)))
    else {
        return;
    };
    let (bar, dot, mut style) = looks(member, theme);
    if marked {
        style = style.add_modifier(Modifier::BOLD);
    }
    // Shorter than a cell: a mark, not nothing.
    let symbol = if end - member.start_ns < window.cell_ns {
        dot
    } else {
        bar
    };
    for x in first..=last {
        buf[(frame.bars.x + x, line.y)]
            .set_char(symbol)
            .set_style(style);
    }
}

/// How a bar is drawn: its character, its mark when shorter than a cell, and its style.
/// The characters differ too, so that they still tell apart without colour.
fn looks(member: &Member, theme: &Theme) -> (char, char, Style) {
    match member.exit.map(|e| e.status) {
        None => ('═', '•', theme.running),
        Some(ExitStatus::Code(0)) => ('█', '•', theme.succeeded),
        Some(ExitStatus::Code(_)) => ('▓', '!', theme.failed),
        Some(ExitStatus::Signal { .. }) => ('▒', '×', theme.killed),
        Some(ExitStatus::Unknown) => ('─', '?', theme.faint),
    }
}

/// The axis: a `|` at each round time, its time of day after it.
fn draw_axis(window: &Window, bars: Rect, y: u16, buf: &mut Buffer, view: &View) {
    let theme = view.theme;
    let right = bars.right();
    for (x, _, label) in window.ticks(view.clock) {
        let x = bars.x + x;
        buf.set_stringn(x, y, format!("|{label}"), (right - x) as usize, theme.faint);
    }
}
