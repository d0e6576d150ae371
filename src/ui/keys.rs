//! The keys of the tree view, in one table: every action with its stable name and its
//! default keys. The keymap in use (`keymap`) is made from it, with the keys a user gave
//! some actions; the application looks keys up there and the help lists it, so the two
//! cannot disagree. Dialogs read their own keys (see `dialog`); Ctrl-C quits from
//! anywhere. The keys of a replay have a table of their own (`replay::REPLAY_BINDINGS`),
//! in the keymap with this one, which the help lists only in a replay.

use crossterm::event::KeyCode;

use super::{panes::Pane, replay::Control};

/// What a key does in the tree view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    /// Folds or unfolds the selected subtree.
    Fold,
    /// Folds the selected subtree, or selects its parent if it is folded or has none.
    FoldOrParent,
    Unfold,
    Search,
    NextMatch,
    PreviousMatch,
    /// Filters the tree to the search's matches and their ancestors, or ends the filter.
    Filter,
    /// Asks for the text to filter the tree by (htop's `\` and F4).
    FilterPrompt,
    /// Shows only one user's processes, picked from a list, or everyone's.
    User,
    /// Switches between the tree and a flat list, sorted as siblings are.
    FlatList,
    /// Tags or untags the selected process and moves down.
    Tag,
    /// Untags every process.
    Untag,
    /// Sends a signal to the tagged processes, or else to the selected one.
    Signal,
    /// Shows or hides kernel threads.
    KernelThreads,
    /// Sorts siblings by the next or the previous column (pid, CPU, memory, age, name).
    SortNext,
    SortPrevious,
    /// Sorts the other way.
    SortInvert,
    /// Shows or hides columns and orders them.
    Columns,
    /// Shows or hides a pane; one that lists things takes the keys (again: hides it).
    Pane(Pane),
    /// Pins or unpins the selected process's subtree (in the pins pane: the picked pin).
    Pin,
    /// Edits the current pin's event mask.
    PinMask,
    /// Shows only pinned subtrees, or everything.
    PinnedView,
    /// Makes a relay rule for the selected process or the picked pin.
    Relay,
    Help,
    /// Hides the banner, or else ends the search.
    Dismiss,
    Quit,
    /// Plays, pauses, steps or seeks a replay.
    Replay(Control),
    /// Asks for a time to seek a replay to.
    SeekPrompt,
}

/// A key as a binding names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Char(char),
    Code(KeyCode),
}

impl Action {
    /// It moves the selection or folds in the tree.
    pub fn moves(self) -> bool {
        matches!(
            self,
            Action::Up
                | Action::Down
                | Action::PageUp
                | Action::PageDown
                | Action::Home
                | Action::End
                | Action::Fold
                | Action::FoldOrParent
                | Action::Unfold
                | Action::NextMatch
                | Action::PreviousMatch
        )
    }
}

/// An action's name, its default keys, what the help calls them, and what it does.
#[derive(Debug)]
pub struct Binding {
    /// What a keymap calls the action (`[keys]` in the config file): stable.
    pub name: &'static str,
    pub keys: &'static [Key],
    pub label: &'static str,
    pub help: &'static str,
    pub action: Action,
}

pub(super) const fn bind(
    name: &'static str,
    keys: &'static [Key],
    label: &'static str,
    help: &'static str,
    action: Action,
) -> Binding {
    Binding {
        name,
        keys,
        label,
        help,
        action,
    }
}

use Key::{Char, Code};

pub const BINDINGS: &[Binding] = &[
    bind("up", &[Code(KeyCode::Up)], "↑", "move up", Action::Up),
    bind(
        "down",
        &[Code(KeyCode::Down), Char('j')],
        "↓ j",
        "move down",
        Action::Down,
    ),
    bind(
        "page-up",
        &[Code(KeyCode::PageUp)],
        "PgUp",
        "page up",
        Action::PageUp,
    ),
    bind(
        "page-down",
        &[Code(KeyCode::PageDown)],
        "PgDn",
        "page down",
        Action::PageDown,
    ),
    bind(
        "first",
        &[Code(KeyCode::Home), Char('g')],
        "Home g",
        "first process",
        Action::Home,
    ),
    bind(
        "last",
        &[Code(KeyCode::End), Char('G')],
        "End G",
        "last process",
        Action::End,
    ),
    bind(
        "fold",
        &[Code(KeyCode::Enter)],
        "Enter",
        "fold or unfold the subtree",
        Action::Fold,
    ),
    bind(
        "fold-or-parent",
        &[Code(KeyCode::Left), Char('h')],
        "← h",
        "fold, or go to the parent",
        Action::FoldOrParent,
    ),
    bind(
        "unfold",
        &[Code(KeyCode::Right), Char('l')],
        "→ l",
        "unfold",
        Action::Unfold,
    ),
    bind(
        "search",
        &[Char('/'), Code(KeyCode::F(3))],
        "/ F3",
        "search names and argv",
        Action::Search,
    ),
    bind(
        "next-match",
        &[Char('n')],
        "n",
        "next match",
        Action::NextMatch,
    ),
    bind(
        "previous-match",
        &[Char('N')],
        "N",
        "previous match",
        Action::PreviousMatch,
    ),
    bind(
        "filter",
        &[Char('f')],
        "f",
        "filter to matches and their parents (again: all)",
        Action::Filter,
    ),
    bind(
        "filter-prompt",
        &[Char('\\'), Code(KeyCode::F(4))],
        "\\ F4",
        "type a filter (empty: all)",
        Action::FilterPrompt,
    ),
    bind(
        "user",
        &[Char('u')],
        "u",
        "one user's processes, or all",
        Action::User,
    ),
    bind(
        "flat-list",
        &[Code(KeyCode::F(5))],
        "F5",
        "tree or flat list",
        Action::FlatList,
    ),
    bind(
        "sort-next",
        &[Char('>'), Code(KeyCode::F(6))],
        "> F6",
        "sort by the next: pid, CPU, memory, age, name",
        Action::SortNext,
    ),
    bind(
        "sort-previous",
        &[Char('<')],
        "<",
        "sort by the previous one",
        Action::SortPrevious,
    ),
    bind(
        "sort-invert",
        &[Char('I')],
        "I",
        "invert the sort",
        Action::SortInvert,
    ),
    bind(
        "columns",
        &[Char('C'), Code(KeyCode::F(2))],
        "C F2",
        "choose and order the columns",
        Action::Columns,
    ),
    bind(
        "tag",
        &[Char(' ')],
        "Space",
        "tag or untag the process",
        Action::Tag,
    ),
    bind("untag-all", &[Char('U')], "U", "untag all", Action::Untag),
    bind(
        "signal",
        &[Char('k'), Code(KeyCode::F(9))],
        "k F9",
        "send a signal (to the tagged ones)",
        Action::Signal,
    ),
    bind(
        "kernel-threads",
        &[Char('K')],
        "K",
        "show or hide kernel threads",
        Action::KernelThreads,
    ),
    bind(
        "details",
        &[Char('d'), Code(KeyCode::Tab)],
        "d Tab",
        "details of the selected process",
        Action::Pane(Pane::Details),
    ),
    bind(
        "event-log",
        &[Char('e')],
        "e",
        "event log",
        Action::Pane(Pane::EventLog),
    ),
    bind(
        "pin",
        &[Char('p')],
        "p",
        "pin or unpin the subtree (the tagged ones')",
        Action::Pin,
    ),
    bind(
        "pins-pane",
        &[Char('P')],
        "P",
        "pins pane, with the keys (again: hide it)",
        Action::Pane(Pane::Pins),
    ),
    bind(
        "pin-mask",
        &[Char('m')],
        "m",
        "events the pin logs",
        Action::PinMask,
    ),
    bind(
        "pinned-only",
        &[Char('v')],
        "v",
        "only pinned subtrees (again: all)",
        Action::PinnedView,
    ),
    bind(
        "relay",
        &[Char('r')],
        "r",
        "relay events of the process or pin as signals",
        Action::Relay,
    ),
    bind(
        "relays-pane",
        &[Char('R')],
        "R",
        "relays pane, with the keys (again: hide it)",
        Action::Pane(Pane::Relays),
    ),
    bind(
        "timeline",
        &[Char('T')],
        "T",
        "timeline, with the keys: + - zoom, ← → pan",
        Action::Pane(Pane::Timeline),
    ),
    bind(
        "help",
        &[Char('?'), Code(KeyCode::F(1))],
        "? F1",
        "this help",
        Action::Help,
    ),
    bind(
        "dismiss",
        &[Code(KeyCode::Esc)],
        "Esc",
        "hide the banner, end the search",
        Action::Dismiss,
    ),
    bind(
        "quit",
        &[Char('q'), Code(KeyCode::F(10))],
        "q F10",
        "quit (Ctrl-C too)",
        Action::Quit,
    ),
];

#[cfg(test)]
mod tests {
    use crossterm::event::{KeyEvent, KeyModifiers};

    use super::{
        super::{keymap::Keymap, replay::REPLAY_BINDINGS},
        *,
    };

    #[test]
    fn every_key_is_bound_once() {
        let keys: Vec<Key> = BINDINGS
            .iter()
            .chain(REPLAY_BINDINGS)
            .flat_map(|b| b.keys.iter().copied())
            .collect();
        for (i, key) in keys.iter().enumerate() {
            assert!(!keys[i + 1..].contains(key), "{key:?} is bound twice");
        }
    }

    #[test]
    fn capitals_come_with_shift_and_control_keys_are_not_letters() {
        let action = |key| Keymap::default().action(key);
        let shift_n = KeyEvent::new(KeyCode::Char('N'), KeyModifiers::SHIFT);
        assert_eq!(action(shift_n), Some(Action::PreviousMatch));
        let ctrl_n = KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL);
        assert_eq!(action(ctrl_n), None);
        let tab = KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE);
        assert_eq!(action(tab), Some(Action::Pane(Pane::Details)));
    }
}
