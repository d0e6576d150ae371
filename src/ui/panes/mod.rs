//! The panes beside and below the tree, each a [`Component`] in its own module, and
//! [`PANES`], the one list of them. A new pane is a module here, a [`Pane`] name, a line in
//! [`PANES`] and the key that opens it in `keys`; the application opens, places, focuses
//! and draws it from the list, without knowing it.
//!
//! - `tree`: the tree itself (not a pane of the list: the application's main view), its
//!   rows drawn and the cursor that follows the selected process; `columns`: the cells
//!   of its columns before the command.
//! - `details`: the selected process in full.
//! - `events`: the latest events.
//! - `pins`: the pins, and the events of one.
//! - `relays`: the relay rules and what they sent.
//! - `timeline`: the lifetimes of a subtree's processes on a time axis.
//! - `list`: what the panes that list things share: their frame and their keys.

mod columns;
pub mod details;
pub mod events;
pub mod list;
pub mod pins;
pub mod relays;
pub mod timeline;
pub mod tree;

use super::component::{Component, Happened};

/// A pane beside or below the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    /// The selected process in full.
    Details,
    /// The latest events.
    EventLog,
    /// The pins, and the events of one.
    Pins,
    /// The relay rules and what they sent.
    Relays,
    /// The lifetimes of a subtree's processes on a time axis.
    Timeline,
}

/// Where a pane goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Beside the tree (below it on narrow terminals).
    Side,
    /// Below the tree, across the screen.
    Bottom,
}

/// A pane the application can open.
pub struct Entry {
    pub pane: Pane,
    pub place: Place,
    /// It lists things to pick, and takes the keys when opened (see `list`).
    pub takes_keys: bool,
    /// The pane in its first state; made once, so a pane closed and opened again is as it
    /// was.
    pub new: fn() -> Box<dyn Component>,
}

/// Every pane, in the order the application makes them.
pub const PANES: &[Entry] = &[
    Entry {
        pane: Pane::Details,
        place: Place::Side,
        takes_keys: false,
        new: || Box::new(details::Details),
    },
    Entry {
        pane: Pane::EventLog,
        place: Place::Bottom,
        takes_keys: false,
        new: || Box::new(events::Events),
    },
    Entry {
        pane: Pane::Pins,
        place: Place::Bottom,
        takes_keys: true,
        new: || Box::<pins::PinsPane>::default(),
    },
    Entry {
        pane: Pane::Relays,
        place: Place::Side,
        takes_keys: true,
        new: || Box::<relays::RelaysPane>::default(),
    },
    Entry {
        pane: Pane::Timeline,
        place: Place::Bottom,
        takes_keys: true,
        new: || Box::<timeline::Timeline>::default(),
    },
];

impl Pane {
    /// Its entry in [`PANES`].
    pub fn entry(self) -> &'static Entry {
        PANES
            .iter()
            .find(|e| e.pane == self)
            .expect("every pane is in PANES")
    }

    pub fn place(self) -> Place {
        self.entry().place
    }
}

/// The panes of [`PANES`], each made once, and those open.
#[derive(Default)]
pub struct Panes {
    /// In the order of [`PANES`].
    all: Vec<Box<dyn Component>>,
    /// Open panes, in the order they were opened.
    opened: Vec<Pane>,
}

impl Panes {
    /// Every pane, none open.
    pub fn new() -> Self {
        Self {
            all: PANES.iter().map(|entry| (entry.new)()).collect(),
            opened: Vec::new(),
        }
    }

    fn at(pane: Pane) -> usize {
        PANES.iter().position(|e| e.pane == pane).unwrap_or(0)
    }

    pub fn get(&self, pane: Pane) -> &dyn Component {
        self.all[Self::at(pane)].as_ref()
    }

    pub fn get_mut(&mut self, pane: Pane) -> &mut dyn Component {
        self.all[Self::at(pane)].as_mut()
    }

    pub fn is_open(&self, pane: Pane) -> bool {
        self.opened.contains(&pane)
    }

    /// Opens `pane` after those open, or closes it.
    pub fn toggle(&mut self, pane: Pane) {
        if self.is_open(pane) {
            self.opened.retain(|&p| p != pane);
        } else {
            self.opened.push(pane);
        }
    }

    /// The open panes that go in `place`, in the order they were opened.
    pub fn open_in(&self, place: Place) -> Vec<Pane> {
        self.opened
            .iter()
            .copied()
            .filter(|p| p.place() == place)
            .collect()
    }

    /// Tells every pane, open or not.
    pub fn happened(&mut self, what: Happened) {
        for pane in &mut self.all {
            pane.happened(what);
        }
    }
}
