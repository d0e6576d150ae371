//! The user dialog (`u`, as in htop): one user's processes, picked from the users that have
//! live processes now (by uid, with how many each has), or everyone's. The tree keeps the
//! ancestors of a user's processes as context, dimmed; the flat list shows only theirs.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::{
    buffer::Buffer,
    layout::Rect,
    style::{Modifier, Stylize},
    text::Line,
};

use super::{
    component::{Ask, Component, Dialog, Handled, View},
    render::{CHOOSE_KEYS, PICKED, popup},
};
use crate::tracker::model::{Model, Process};

const WIDTH: u16 = 44;

#[derive(Debug)]
pub struct UserDialog {
    /// Each user with live processes, by uid, and how many they have.
    users: Vec<(u32, usize)>,
    /// The entry selected: 0 is everyone, then `users`.
    at: usize,
}

impl UserDialog {
    /// The users of `model`'s live processes, with `current` (the user shown now, if
    /// any) selected.
    pub fn new(model: &Model, current: Option<u32>) -> Self {
        let mut users: Vec<(u32, usize)> = Vec::new();
        let mut uids: Vec<u32> = model
            .iter()
            .filter(|p| p.is_alive())
            .filter_map(|p: &Process| Some(p.creds?.uid))
            .collect();
        uids.sort_unstable();
        for uid in uids {
            match users.last_mut() {
                Some((last, n)) if *last == uid => *n += 1,
                _ => users.push((uid, 1)),
            }
        }
        let at = current
            .and_then(|uid| users.iter().position(|&(u, _)| u == uid))
            .map_or(0, |i| i + 1);
        Self { users, at }
    }

    fn entries(&self) -> usize {
        self.users.len() + 1
    }
}

impl Dialog for UserDialog {
    fn uids(&self) -> Vec<u32> {
        self.users.iter().map(|&(uid, _)| uid).collect()
    }
}

impl Component for UserDialog {
    fn key(&mut self, key: KeyEvent, _view: &View) -> Handled {
        let last = self.entries() - 1;
        match key.code {
            KeyCode::Esc => return Handled::Close(None),
            KeyCode::Enter => {
                let uid = self.at.checked_sub(1).map(|i| self.users[i].0);
                return Handled::Close(Some(Ask::User(uid)));
            }
            KeyCode::Up | KeyCode::Char('k') => self.at = self.at.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => self.at = (self.at + 1).min(last),
            KeyCode::Home => self.at = 0,
            KeyCode::End => self.at = last,
            _ => {}
        }
        Handled::Taken
    }

    fn draw(&self, area: Rect, buf: &mut Buffer, view: &View) {
        let height = (self.entries() as u16 + 2).min(area.height);
        let shown = height.saturating_sub(2).max(1) as usize;
        let offset = (self.at + 1).saturating_sub(shown);
        let everyone = std::iter::once(" all users".to_owned());
        let users = self.users.iter().map(|&(uid, n)| {
            let name = view.users.name(uid).unwrap_or("?");
            let processes = if n == 1 { "process" } else { "processes" };
            format!(" {name} (uid {uid}): {n} {processes}")
        });
        let lines: Vec<Line> = everyone
            .chain(users)
            .enumerate()
            .skip(offset)
            .take(shown)
            .map(|(i, text)| {
                if i == self.at {
                    Line::styled(text, PICKED)
                } else {
                    Line::raw(text)
                }
            })
            .collect();
        let title = " Show the processes of ".add_modifier(Modifier::BOLD);
        popup(area, buf, (WIDTH, height), title, CHOOSE_KEYS, lines);
    }
}
