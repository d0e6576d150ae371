//! Panes that list things to pick (the pins pane, the relays pane) can take the keys from
//! the tree. While one has them (`App::focus`): ↑ ↓ (k j), Home End pick an item, x or
//! Delete removes it, Esc gives the keys back to the tree, and every other key does what
//! it does in the tree (acting on the picked item where it can, e.g. `m` on a pin: see
//! [`super::super::component::Component::picked`]).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::{
    style::{Color, Style},
    widgets::Block,
};

/// The frame of a list pane: cyan, with its keys at the bottom, while it has the keys.
pub fn block(title: &'static str, focused: bool, keys: &'static str) -> Block<'static> {
    let block = Block::bordered().title(title);
    if focused {
        block
            .border_style(Style::new().fg(Color::Cyan))
            .title_bottom(keys)
    } else {
        block
    }
}

/// What a key does in a list pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListKey {
    /// The pick moved (or stayed at an end).
    Moved,
    /// Remove the picked item.
    Remove,
    /// Select the picked item's process in the tree.
    Show,
    /// Not a key of the list: the tree's keys apply.
    Other,
}

/// Reads a key of a list of `len` items with `picked` picked, moving the pick.
pub fn list_key(key: KeyEvent, picked: &mut usize, len: usize) -> ListKey {
    if key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return ListKey::Other;
    }
    let last = len.saturating_sub(1);
    *picked = match key.code {
        KeyCode::Up | KeyCode::Char('k') => picked.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => (*picked + 1).min(last),
        KeyCode::Home | KeyCode::Char('g') => 0,
        KeyCode::End | KeyCode::Char('G') => last,
        KeyCode::Char('x') | KeyCode::Delete => return ListKey::Remove,
        KeyCode::Enter => return ListKey::Show,
        _ => return ListKey::Other,
    };
    ListKey::Moved
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, picked: &mut usize, len: usize) -> ListKey {
        list_key(KeyEvent::new(code, KeyModifiers::NONE), picked, len)
    }

    #[test]
    fn list_keys_move_within_the_list() {
        let mut picked = 0;
        assert_eq!(press(KeyCode::Up, &mut picked, 3), ListKey::Moved);
        assert_eq!(picked, 0);
        press(KeyCode::Char('j'), &mut picked, 3);
        press(KeyCode::Down, &mut picked, 3);
        press(KeyCode::Down, &mut picked, 3);
        assert_eq!(picked, 2);
        press(KeyCode::Char('k'), &mut picked, 3);
        assert_eq!(picked, 1);
        press(KeyCode::Home, &mut picked, 3);
        assert_eq!(picked, 0);
        press(KeyCode::Char('G'), &mut picked, 3);
        assert_eq!(picked, 2);
        assert_eq!(press(KeyCode::Delete, &mut picked, 3), ListKey::Remove);
        assert_eq!(press(KeyCode::Char('x'), &mut picked, 3), ListKey::Remove);
        assert_eq!(press(KeyCode::Enter, &mut picked, 3), ListKey::Show);
        assert_eq!(press(KeyCode::Char('m'), &mut picked, 3), ListKey::Other);
        let ctrl_k = KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL);
        assert_eq!(list_key(ctrl_k, &mut picked, 3), ListKey::Other);
        assert_eq!(picked, 2);
        press(KeyCode::Down, &mut picked, 0);
        assert_eq!(picked, 0, "an empty list");
    }
}
