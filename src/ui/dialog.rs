//! Dialogs: whatever takes the keyboard for a while and draws over the screen (the key
//! help, the search prompt). A new one implements [`Dialog`] in its own module and is
//! opened with `App::open`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Modifier, Style, Stylize},
    text::{Line, Span},
    widgets::{Block, Clear, Paragraph, Widget},
};

use super::{
    app::App,
    keys::{BINDINGS, REPLAY_BINDINGS},
    render::centered,
};
use crate::text;

/// A dialog: it gets every key (but Ctrl-C, which quits) while it is open.
pub trait Dialog {
    /// Handles a key, changing the application as it must; false closes the dialog.
    fn key(&mut self, key: KeyEvent, app: &mut App) -> bool;

    /// Draws the dialog over the screen `area`.
    fn render(&self, app: &App, area: Rect, buf: &mut Buffer);
}

/// The key help: the bindings table, as it is.
pub struct Help;

impl Dialog for Help {
    /// Any key closes it.
    fn key(&mut self, _key: KeyEvent, _app: &mut App) -> bool {
        false
    }

    fn render(&self, app: &App, area: Rect, buf: &mut Buffer) {
        let key = Style::new().add_modifier(Modifier::BOLD);
        let replay = if app.replay.is_some() {
            REPLAY_BINDINGS
        } else {
            &[]
        };
        let mut lines: Vec<Line> = BINDINGS
            .iter()
            .chain(replay)
            .map(|b| {
                Line::from(vec![
                    Span::styled(format!(" {:<12}", b.label), key),
                    b.help.into(),
                ])
            })
            .collect();
        lines.push(Line::from(vec![
            Span::styled(format!(" {:<12}", "mouse"), key),
            "click selects, wheel scrolls".into(),
        ]));
        let width = lines.iter().map(Line::width).max().unwrap_or(0) as u16 + 3;
        let popup = centered(area, width, lines.len() as u16 + 2);
        Clear.render(popup, buf);
        Paragraph::new(lines)
            .block(
                Block::bordered()
                    .title(" Keys ")
                    .title_bottom(" any key closes "),
            )
            .render(popup, buf);
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
pub struct Prompt {
    purpose: PromptPurpose,
    text: String,
    /// The search or filter before the prompt opened.
    before: Option<String>,
    /// The row selected when the prompt opened: a search looks from there.
    origin: usize,
}

impl Prompt {
    pub fn new(purpose: PromptPurpose, app: &App) -> Self {
        let before = match purpose {
            PromptPurpose::Search => app.tree.search.as_ref().map(|s| s.text.clone()),
            PromptPurpose::Filter => app.tree.options.filter.clone(),
            PromptPurpose::Seek => None,
        };
        Self {
            purpose,
            text: String::new(),
            before,
            origin: app.tree.cursor.index,
        }
    }

    /// Makes `text` the search or the filter.
    fn take_effect(&self, text: &str, app: &mut App) {
        match self.purpose {
            PromptPurpose::Search => {
                let handled = app.tree.search_for(text, self.origin, app.tracker.model());
                app.handled(handled);
            }
            PromptPurpose::Filter => {
                app.tree.options.filter = (!text.is_empty()).then(|| text.to_owned());
            }
            PromptPurpose::Seek => {}
        }
    }
}

impl Dialog for Prompt {
    fn key(&mut self, key: KeyEvent, app: &mut App) -> bool {
        match key.code {
            KeyCode::Enter => {
                if self.purpose == PromptPurpose::Seek {
                    app.seek_to_text(&self.text);
                }
                return false;
            }
            KeyCode::Esc => {
                let before = self.before.take().unwrap_or_default();
                self.take_effect(&before, app);
                return false;
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
            _ => return true,
        }
        self.take_effect(&self.text, app);
        true
    }

    fn render(&self, app: &App, _area: Rect, buf: &mut Buffer) {
        let line = app.layout.status;
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
