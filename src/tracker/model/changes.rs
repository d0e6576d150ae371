//! What applying an event (or a re-sync) changed, for what follows the model without
//! scanning it.

use super::ProcessKey;

/// What an event (or a reconcile) changed, so that sets kept outside the model (pins,
/// watch, relay rules) stay current without scanning it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The process concerned; `None` for loss reports.
    pub key: Option<ProcessKey>,
    /// The process was not known before.
    pub started: bool,
    /// The process exited (its first exit, not a late duplicate).
    pub exited: bool,
    /// Its parent link changed (other than by its own parent's exit, see `orphans`).
    pub moved: Option<Move>,
    /// On exit: its live children and where they went.
    pub orphans: Option<Orphans>,
}

/// A process moved from one parent to another; `None` is the top of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub from: Option<ProcessKey>,
    pub to: Option<ProcessKey>,
}

/// The live children of an exited process and their new parent (`None`: the top of the
/// tree, when pid 1 is not known).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Orphans {
    pub children: Vec<ProcessKey>,
    pub to: Option<ProcessKey>,
}
