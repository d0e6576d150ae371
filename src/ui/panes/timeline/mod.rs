//! The timeline pane (`T`): the processes of one subtree (the selected process's when it
//! was opened, or the picked pin's) one a row in tree order, each a bar from its start to
//! its exit, or to now, styled by how it ended, over a time axis labelled with times of
//! day. While it has the keys: `+` `-` zoom, `←` `→` pan, `↑` `↓` move the cursor, which
//! selects its process in the tree too (and follows the tree's selection otherwise). Live
//! it grows with time; in a replay it runs to the recording's end, the bars to where the
//! replay is, and a click on the axis seeks there.
//!
//! - `members`: the rows, rebuilt only when the model changed; `order`: those found in
//!   the model's history put in tree order among them.
//! - `window`: the time shown, zoomed and panned, and the axis's labels.
//! - `draw`: the drawing, which costs what the visible rows cost, not the subtree.

mod draw;
mod members;
mod order;
mod window;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEventKind};
use ratatui::{
    buffer::Buffer,
    layout::{Position, Rect},
};

use members::Members;
use window::{Window, Zoom};

use super::super::component::{Ask, Component, Handled, View};
use crate::event::ProcessKey;

/// The timeline pane's state.
#[derive(Debug, Default)]
pub struct Timeline {
    members: Members,
    zoom: Zoom,
    /// The process the cursor is on.
    cursor: Option<ProcessKey>,
    /// Laid out by the last [`Component::prepare`].
    frame: Frame,
}

/// Where the last frame put things.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Frame {
    /// Inside the border.
    inner: Rect,
    /// The cells of the bars: right of the labels.
    bars: Rect,
    window: Option<Window>,
    /// The first row shown.
    top: usize,
    /// The row the cursor is on.
    cursor_at: Option<usize>,
}

impl Frame {
    /// The rows of processes: below the summary row, above the axis.
    fn rows(&self) -> u16 {
        self.inner.height.saturating_sub(2)
    }

    fn axis_y(&self) -> u16 {
        self.inner.bottom().saturating_sub(1)
    }
}

impl Timeline {
    fn index_of(&self, key: Option<ProcessKey>) -> Option<usize> {
        let key = key?;
        let rows = self.members.rows();
        // Usually where it was last frame; else looked for.
        match self.frame.cursor_at {
            Some(at) if rows.get(at).is_some_and(|m| m.key == key) => Some(at),
            _ => rows.iter().position(|m| m.key == key),
        }
    }

    /// Moves the cursor by `by` rows and selects its process in the tree.
    fn move_cursor(&mut self, by: isize, view: &View) -> Handled {
        let rows = self.members.rows();
        let Some(last) = rows.len().checked_sub(1) else {
            return Handled::Taken;
        };
        let at = self
            .index_of(self.cursor)
            .map_or(0, |at| at.saturating_add_signed(by).min(last));
        self.put_cursor(at, view)
    }

    /// Puts the cursor on row `at` and selects its process in the tree, if it is there.
    fn put_cursor(&mut self, at: usize, view: &View) -> Handled {
        let Some(key) = self.members.rows().get(at).map(|m| m.key) else {
            return Handled::Taken;
        };
        self.cursor = Some(key);
        self.frame.cursor_at = Some(at);
        if view.model().in_tree(key) {
            Handled::Ask(Ask::Show(key))
        } else {
            Handled::Taken
        }
    }

    /// The window for `cells` cells: from the subtree's first start to now, or in a
    /// replay to the recording's end.
    fn window(&mut self, cells: u16, view: &View) -> Window {
        let last = view.now_ns.max(view.replay_end_ns.unwrap_or(0));
        let first = self.members.first_start().unwrap_or(view.now_ns).min(last);
        Window::new(&mut self.zoom, first, last, cells)
    }
}

impl Component for Timeline {
    fn opened(&mut self, subject: Option<ProcessKey>) {
        if subject != self.members.root() {
            self.members.follow(subject);
            self.zoom = Zoom::default();
            self.frame = Frame::default();
        }
        self.cursor = subject;
    }

    fn prepare(&mut self, area: Rect, view: &View) {
        self.members.refresh(view.model());
        // Unless it has the keys, the cursor follows the tree's selection.
        let selected = self.index_of(view.selected);
        if !view.focused && selected.is_some() {
            self.cursor = view.selected;
        }
        let inner = draw::block(view.focused).inner(area);
        let label = (inner.width / 3).min(40);
        let bars = Rect {
            x: inner.x + label,
            width: inner.width - label,
            ..inner
        };
        let window = (bars.width > 0).then(|| self.window(bars.width, view));
        let cursor_at = self.index_of(self.cursor);
        let mut frame = Frame {
            inner,
            bars,
            window,
            top: self.frame.top,
            cursor_at,
        };
        let height = usize::from(frame.rows()).max(1);
        if let Some(at) = cursor_at {
            frame.top = frame.top.min(at).max((at + 1).saturating_sub(height));
        }
        frame.top = frame
            .top
            .min(self.members.rows().len().saturating_sub(height));
        self.frame = frame;
    }

    fn key(&mut self, key: KeyEvent, view: &View) -> Handled {
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return Handled::Ignored;
        }
        let Some(window) = self.frame.window else {
            return Handled::Ignored;
        };
        let page = self.frame.rows().max(1) as isize;
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => return self.move_cursor(-1, view),
            KeyCode::Down | KeyCode::Char('j') => return self.move_cursor(1, view),
            KeyCode::PageUp => return self.move_cursor(-page, view),
            KeyCode::PageDown => return self.move_cursor(page, view),
            KeyCode::Home | KeyCode::Char('g') => return self.move_cursor(isize::MIN, view),
            KeyCode::End | KeyCode::Char('G') => return self.move_cursor(isize::MAX, view),
            KeyCode::Left | KeyCode::Char('h') => self.zoom.pan(&window, true),
            KeyCode::Right | KeyCode::Char('l') => self.zoom.pan(&window, false),
            KeyCode::Char('+' | '=') => {
                if !self.zoom.zoom_in(&window) {
                    return Handled::Ask(Ask::Say("the timeline shows its finest".into()));
                }
            }
            KeyCode::Char('-') => {
                if !self.zoom.zoom_out(&window) {
                    return Handled::Ask(Ask::Say("the timeline shows all of it".into()));
                }
            }
            _ => return Handled::Ignored,
        }
        Handled::Taken
    }

    /// A click on the axis seeks there (in a replay); on a row, moves the cursor to it.
    /// The wheel moves the cursor.
    fn mouse(&mut self, kind: MouseEventKind, at: Position, view: &View) -> Handled {
        let frame = self.frame;
        if !frame.inner.contains(at) {
            return Handled::Ignored;
        }
        match kind {
            MouseEventKind::ScrollUp => return self.move_cursor(-1, view),
            MouseEventKind::ScrollDown => return self.move_cursor(1, view),
            MouseEventKind::Down(MouseButton::Left) => {}
            _ => return Handled::Ignored,
        }
        if at.y == frame.axis_y() {
            return match frame.window {
                Some(window) if frame.bars.contains(at) => {
                    Handled::Ask(Ask::SeekAt(window.time_at(at.x - frame.bars.x, view.clock)))
                }
                _ => Handled::Taken,
            };
        }
        let row = (at.y - frame.inner.y) as usize;
        if row == 0 || row > usize::from(frame.rows()) {
            return Handled::Taken;
        }
        self.put_cursor(frame.top + row - 1, view)
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, view: &View) {
        draw::draw(self, area, buf, view);
    }
}
