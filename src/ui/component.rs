//! What a pane or a dialog is to the application: a [`Component`] owns its state, reads
//! its keys and draws itself from a [`View`] of what the application keeps (the tracker,
//! the clock, the user names, the recent events). It never holds the application: what it
//! wants done beyond its own state it asks for ([`Handled::Ask`]), and the application
//! does it. A [`Dialog`] is a component that has every key while it is open.

use crossterm::event::{KeyEvent, MouseEventKind};
use ratatui::{
    buffer::Buffer,
    layout::{Position, Rect},
};

use super::{
    keys::Action,
    look::{Column, Theme},
    message::Effect,
    panes::events::RecentEvents,
    relays::RelayNotices,
    users::Users,
};
use crate::{
    clock::WallClock,
    event::{KindSet, ProcessKey},
    tracker::{
        Tracker,
        model::{Model, Process},
        rules::RuleId,
    },
};

/// What a pane reads to draw itself or to read a key: the application's, lent.
pub struct View<'a> {
    pub tracker: &'a Tracker,
    pub clock: &'a WallClock,
    pub users: &'a Users,
    /// The latest events, oldest first.
    pub recent: &'a RecentEvents,
    /// What the relay rules said, oldest first.
    pub relay_notices: &'a RelayNotices,
    /// The time shown (see [`super::App::now_ns`]).
    pub now_ns: u64,
    /// The process selected in the tree.
    pub selected: Option<ProcessKey>,
    /// This pane has the keys.
    pub focused: bool,
    /// A recording is played back.
    pub replaying: bool,
    /// In a replay: when the recording ends.
    pub replay_end_ns: Option<u64>,
    /// The styles of the tree, which the panes share.
    pub theme: &'a Theme,
}

impl View<'_> {
    pub fn model(&self) -> &Model {
        self.tracker.model()
    }

    pub fn selected_process(&self) -> Option<&Process> {
        self.model().get(self.selected?)
    }
}

/// What came of a key given to a pane or a dialog.
#[derive(Debug)]
pub enum Handled {
    /// Not a key of the pane: the tree's keys apply (after a dialog's, those that move).
    Ignored,
    /// The pane took it, changing only itself.
    Taken,
    /// The pane took it and asks the application for this.
    Ask(Ask),
    /// The dialog closes, asking for this first.
    Close(Option<Ask>),
}

/// What a pane or a dialog asks of the application.
#[derive(Debug)]
pub enum Ask {
    /// Show a short note in the status line until the next key.
    Say(String),
    /// Do what this key of the tree does, on the item the pane has picked.
    Perform(Action),
    /// Select this process in the tree (or say it is not there).
    Show(ProcessKey),
    /// Remove this relay rule.
    RemoveRule(RuleId),
    /// Search the tree for `text`, from row `origin` on.
    Search { text: String, origin: usize },
    /// Filter the tree by `text` (empty: no filter).
    Filter(String),
    /// Show only this user's processes (`None`: everyone's).
    User(Option<u32>),
    /// Seek the replay to the time typed.
    Seek(String),
    /// Seek the replay to this time (CLOCK_BOOTTIME of the recording).
    SeekAt(u64),
    /// Set the mask of the pin rooted at `root`.
    SetMask { root: ProcessKey, mask: KindSet },
    /// Open this dialog.
    Open(Box<dyn Dialog>),
    /// Show these columns, in this order, and save them in the config file.
    Columns(Vec<Column>),
    /// Ask this of the loop, right after the update.
    Effect(Effect),
}

/// What happened in the application that a pane may follow while it is not drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Happened {
    /// A pin was made, the `at`th in the tracker's list.
    Pinned { at: usize },
}

/// A pane: its own state, its keys and its drawing.
pub trait Component {
    /// A key while the pane has the keys (Esc excepted: it gives them back to the tree).
    fn key(&mut self, _key: KeyEvent, _view: &View) -> Handled {
        Handled::Ignored
    }

    /// Draws the pane in `area`: reads its state and `view`, changes nothing.
    fn draw(&self, area: Rect, buf: &mut Buffer, view: &View);

    /// Brings what it draws in `area` up to date, before each frame while it is open: what
    /// costs more than drawing is done here, and only when what it reads changed.
    fn prepare(&mut self, _area: Rect, _view: &View) {}

    /// A click or the wheel at `at`, in the pane as the last frame laid it out.
    fn mouse(&mut self, _kind: MouseEventKind, _at: Position, _view: &View) -> Handled {
        Handled::Ignored
    }

    /// The pane was opened for `subject`: the process the item picked in the pane that
    /// had the keys stands for (a pin's root), else the selected one.
    fn opened(&mut self, _subject: Option<ProcessKey>) {}

    /// The process the item picked in the pane stands for, while the pane has the keys:
    /// the tree's keys act on it (`m` on a pin, `r` on its subtree).
    fn picked(&self, _view: &View) -> Option<ProcessKey> {
        None
    }

    /// The pane was given the keys.
    fn focused(&mut self, _view: &View) {}

    /// Something happened that the pane may follow.
    fn happened(&mut self, _what: Happened) {}
}

/// A dialog: a component that gets every key (but Ctrl-C, which quits) while it is open,
/// and draws over the screen. It closes with [`Handled::Close`].
pub trait Dialog: Component + std::fmt::Debug {
    /// It is drawn on the status line (a prompt), not over the screen.
    fn on_status_line(&self) -> bool {
        false
    }

    /// The uids whose user names it shows, for the loop to look up before a frame.
    fn uids(&self) -> Vec<u32> {
        Vec::new()
    }
}
