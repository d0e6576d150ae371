//! The mask dialog (`m`): which kinds of event a pin logs, in kmonitor's spirit, one
//! toggle per kind. Loss reports are always logged: they may have hidden the pin's events.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::{buffer::Buffer, layout::Rect, text::Line};

use super::{
    component::{Ask, Component, Dialog, Handled, View},
    pins::{NOTHING_PINNED, name_of},
    render::{PICKED, popup},
};
use crate::{
    event::{KindName, KindSet, ProcessKey},
    tracker::{Tracker, pins::Pin},
};

/// The kinds a mask chooses from, as the dialog names them: all but loss reports.
fn choices() -> impl Iterator<Item = (KindName, &'static str)> {
    KindName::ALL
        .into_iter()
        .filter_map(|kind| Some((kind, kind.mask_label()?)))
}

const KEYS: &str = " Space toggles · Enter keeps · Esc cancels ";

/// Edits the mask of the pin rooted at `root`; nothing changes until Enter.
#[derive(Debug)]
pub struct MaskDialog {
    root: ProcessKey,
    name: String,
    mask: KindSet,
    at: usize,
}

impl MaskDialog {
    /// `name`: the root as the title shows it.
    fn new(root: ProcessKey, name: String, mask: KindSet) -> Self {
        Self {
            root,
            name,
            mask,
            at: 0,
        }
    }

    /// The dialog of `pin`, the current one; what to say if there is none.
    pub fn for_pin(pin: Option<&Pin>, tracker: &Tracker) -> Result<Self, &'static str> {
        match pin {
            Some(pin) => Ok(Self::new(
                pin.root(),
                name_of(tracker.model(), pin.root()),
                pin.mask(),
            )),
            None if tracker.pins().is_empty() => Err(NOTHING_PINNED),
            None => Err("the selected process is in no pin: P picks one"),
        }
    }

    fn toggle(&mut self, at: usize) {
        let Some((kind, _)) = choices().nth(at) else {
            return;
        };
        self.mask = if self.mask.contains(kind) {
            self.mask.without(kind)
        } else {
            self.mask.with(kind)
        };
    }
}

impl Dialog for MaskDialog {}

impl Component for MaskDialog {
    fn key(&mut self, key: KeyEvent, _view: &View) -> Handled {
        match key.code {
            KeyCode::Up | KeyCode::Char('k') => self.at = self.at.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                self.at = (self.at + 1).min(choices().count() - 1);
            }
            KeyCode::Char(' ' | 'x') => self.toggle(self.at),
            KeyCode::Char(c @ '1'..='9') if c as usize - ('1' as usize) < choices().count() => {
                self.at = c as usize - '1' as usize;
                self.toggle(self.at);
            }
            KeyCode::Enter => {
                return Handled::Close(Some(Ask::SetMask {
                    root: self.root,
                    mask: self.mask,
                }));
            }
            KeyCode::Esc => return Handled::Close(None),
            _ => {}
        }
        Handled::Taken
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, _view: &View) {
        let lines: Vec<Line> = choices()
            .enumerate()
            .map(|(at, (kind, label))| {
                let on = if self.mask.contains(kind) { 'x' } else { ' ' };
                let line = Line::from(format!(" {} [{on}] {label}", at + 1));
                if at == self.at {
                    line.style(PICKED)
                } else {
                    line
                }
            })
            .collect();
        let title = format!(" Pin {} logs ", self.name);
        let width = [title.chars().count(), KEYS.chars().count()]
            .into_iter()
            .max()
            .unwrap_or(0) as u16
            + 2;
        popup(
            area,
            buf,
            (width, lines.len() as u16 + 2),
            title,
            KEYS,
            lines,
        );
    }
}
