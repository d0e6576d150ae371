//! The columns dialog (`C`, F2, as htop's setup): which columns the tree shows and in
//! which order. Space shows or hides the picked column, `[` and `]` move it up or down;
//! Enter uses them and saves them in the config file (`columns = [...]`), Esc leaves the
//! columns as they were. The command is always shown, last: it is not listed.

use std::{fmt, sync::Arc};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Modifier, Stylize},
    text::Line,
};

use super::{
    component::{Ask, Component, Dialog, Handled, View},
    look::Column,
    render::{PICKED, popup},
};

const WIDTH: u16 = 48;
const KEYS: &str = " Space shows · [ ] move · Enter saves · Esc ";

/// Saves columns: Ok, what to say it did; Err, why it could not, one line.
type Save = dyn Fn(&[Column]) -> Result<String, String> + Send + Sync;

/// Saves the columns where they are kept: the command line makes it, for the config file
/// it read.
#[derive(Clone)]
pub struct ColumnsSaver(Arc<Save>);

impl ColumnsSaver {
    pub fn new(save: impl Fn(&[Column]) -> Result<String, String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(save))
    }

    pub fn save(&self, columns: &[Column]) -> Result<String, String> {
        (self.0)(columns)
    }
}

impl fmt::Debug for ColumnsSaver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ColumnsSaver")
    }
}

#[derive(Debug)]
pub struct ColumnsDialog {
    /// Every column but the command: those shown first, in their order, then the others.
    entries: Vec<(Column, bool)>,
    /// The entry picked.
    at: usize,
}

impl ColumnsDialog {
    /// The dialog for the columns shown now, `current`.
    pub fn new(current: &[Column]) -> Self {
        let listed = |c: &Column| *c != Column::Command;
        let shown = current.iter().copied().filter(listed).map(|c| (c, true));
        let hidden = Column::ALL
            .into_iter()
            .filter(|c| listed(c) && !current.contains(c))
            .map(|c| (c, false));
        Self {
            entries: shown.chain(hidden).collect(),
            at: 0,
        }
    }

    /// The columns chosen, in order, the command last.
    pub fn columns(&self) -> Vec<Column> {
        let shown = self.entries.iter().filter(|(_, shown)| *shown);
        let columns = shown.map(|&(c, _)| c);
        columns.chain([Column::Command]).collect()
    }

    /// Moves the picked entry by `step` (-1 up, 1 down), keeping it picked.
    fn shift(&mut self, step: isize) {
        let to = self.at.saturating_add_signed(step);
        if to < self.entries.len() && to != self.at {
            self.entries.swap(self.at, to);
            self.at = to;
        }
    }
}

impl Dialog for ColumnsDialog {}

impl Component for ColumnsDialog {
    fn key(&mut self, key: KeyEvent, _view: &View) -> Handled {
        let last = self.entries.len() - 1;
        match key.code {
            KeyCode::Esc => return Handled::Close(None),
            KeyCode::Enter => return Handled::Close(Some(Ask::Columns(self.columns()))),
            KeyCode::Up | KeyCode::Char('k') => self.at = self.at.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.at = (self.at + 1).min(last),
            KeyCode::Char(' ') => self.entries[self.at].1 ^= true,
            KeyCode::Char('[') => self.shift(-1),
            KeyCode::Char(']') => self.shift(1),
            _ => {}
        }
        Handled::Taken
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, _view: &View) {
        let lines: Vec<Line> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, &(column, shown))| {
                let mark = if shown { 'x' } else { ' ' };
                let text = format!(" [{mark}] {:<10} {}", column.title(), column.name());
                if i == self.at {
                    Line::styled(text, PICKED)
                } else {
                    Line::raw(text)
                }
            })
            .chain([Line::raw(" COMMAND is always shown, last").dark_gray()])
            .collect();
        let height = (lines.len() as u16 + 2).min(area.height);
        let title = " Columns ".add_modifier(Modifier::BOLD);
        popup(area, buf, (WIDTH, height), title, KEYS, lines);
    }
}
