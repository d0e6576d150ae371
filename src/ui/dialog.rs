//! Dialogs: whatever takes the keyboard for a while and draws over the screen (the key
//! help, the search prompt). A new one implements [`Component`] and [`Dialog`] in its own
//! module and is opened with `App::open`, or by another dialog ([`Ask::Open`]).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Modifier, Style, Stylize},
    text::{Line, Span},
    widgets::{Clear, Widget},
};

pub use super::component::Dialog;
use super::{
    component::{Ask, Component, Handled, View},
    keymap::Keymap,
    panes::tree::Tree,
    render::popup,
};
use crate::text;

/// The key help: the keymap in use, as it is.
#[derive(Debug)]
pub struct Help {
    /// Each action's keys and what it does.
    lines: Vec<(String, &'static str)>,
}

impl Help {
    /// The help of `keymap` (`replaying`: with a replay's keys).
    pub fn new(keymap: &Keymap, replaying: bool) -> Self {
        Self {
            lines: keymap.help(replaying),
        }
    }
}

impl Dialog for Help {}

impl Component for Help {
    /// Any key closes it.
    fn key(&mut self, _key: KeyEvent, _view: &View) -> Handled {
        Handled::Close(None)
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, _view: &View) {
        let key = Style::new().add_modifier(Modifier::BOLD);
        let mut lines: Vec<Line> = self
            .lines
            .iter()
            .map(|(label, help)| {
                Line::from(vec![
                    Span::styled(format!(" {label:<12}"), key),
                    (*help).into(),
                ])
            })
            .collect();
        lines.push(Line::from(vec![
            Span::styled(format!(" {:<12}", "mouse"), key),
            "click selects, wheel scrolls".into(),
        ]));
        let width = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 3;
        let size = (width, lines.len() as u16 + 2);
        popup(area, buf, size, " Keys ", " any key closes ", lines);
    }
}

/// What a prompt's text is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PromptPurpose {
    /// `/`: search, jumping to the first match as the text is typed.
    Search,
    /// `f` without a search: filter the tree as the text is typed.
    Filter,
    /// `t` in a replay: a time to seek to, on Enter.
    Seek,
}

/// A line of text typed at the bottom of the screen. A search or filter takes effect as
/// it is typed; Enter keeps it, Esc puts back what was there before. A seek happens on
/// Enter.
#[derive(Debug)]
pub struct Prompt {
    purpose: PromptPurpose,
    text: String,
    /// The search or filter before the prompt opened.
    before: Option<String>,
    /// The row selected when the prompt opened: a search looks from there.
    origin: usize,
}

impl Prompt {
    /// A prompt over `tree`, whose search or filter it changes.
    pub fn new(purpose: PromptPurpose, tree: &Tree) -> Self {
        let before = match purpose {
            PromptPurpose::Search => tree.search.as_ref().map(|s| s.text.clone()),
            PromptPurpose::Filter => tree.options.filter.clone(),
            PromptPurpose::Seek => None,
        };
        Self {
            purpose,
            text: String::new(),
            before,
            origin: tree.cursor.index,
        }
    }

    /// Makes `text` the search or the filter.
    fn take_effect(&self, text: &str) -> Option<Ask> {
        let text = text.to_owned();
        match self.purpose {
            PromptPurpose::Search => Some(Ask::Search {
                text,
                origin: self.origin,
            }),
            PromptPurpose::Filter => Some(Ask::Filter(text)),
            PromptPurpose::Seek => None,
        }
    }
}

impl Dialog for Prompt {
    fn on_status_line(&self) -> bool {
        true
    }
}

impl Component for Prompt {
    fn key(&mut self, key: KeyEvent, _view: &View) -> Handled {
        match key.code {
            KeyCode::Enter if self.purpose == PromptPurpose::Seek => {
                return Handled::Close(Some(Ask::Seek(self.text.clone())));
            }
            KeyCode::Enter => return Handled::Close(None),
            KeyCode::Esc => {
                let before = self.before.take().unwrap_or_default();
                return Handled::Close(self.take_effect(&before));
            }
            KeyCode::Backspace => {
                self.text.pop();
            }
            KeyCode::Char(c)
                if !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                self.text.push(c);
            }
            _ => return Handled::Taken,
        }
        self.take_effect(&self.text)
            .map_or(Handled::Taken, Handled::Ask)
    }

    /// Draws the prompt on the status line, `line`.
    fn draw(&self, line: Rect, buf: &mut Buffer, _view: &View) {
        let (prefix, hint) = match self.purpose {
            PromptPurpose::Search => ("/", "   Enter keeps, Esc cancels"),
            PromptPurpose::Filter => ("filter: ", "   Enter keeps, Esc cancels"),
            PromptPurpose::Seek => (
                "seek to: ",
                "   a time of day (12:01:02) or +30s, -1m; Enter seeks, Esc cancels",
            ),
        };
        Clear.render(line, buf);
        Line::from(vec![
            prefix.bold(),
            text::escape_str(&self.text).into_owned().into(),
            "█".into(),
            hint.dark_gray(),
        ])
        .render(line, buf);
    }
}
