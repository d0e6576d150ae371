//! Pins in the UI: `p` pins the selected process's subtree (again: unpins it), `P` the pins
//! pane (`panes::pins`), `m` the mask dialog (`mask`), `v` the tree of pinned subtrees
//! only. Who is in a pin is [`crate::tracker::pins`]'s rule, and the pins are the
//! tracker's; this is what the user sees of them and does with them.

use crate::event::host::shown_pid;
use anyhow::Result;
use ratatui::{style::Stylize, text::Span};

use super::rows::{Only, TreeOptions};
use crate::{
    event::{KindName, KindSet, ProcessKey},
    tracker::{
        Tracker,
        model::Model,
        pins::{Pin, Pins},
    },
};

/// How the UI shows the tracker's pins.
#[derive(Debug, Default)]
pub struct PinsState {
    /// The tree shows only pinned subtrees.
    only: bool,
    /// Changes whenever a pin is made or removed.
    version: u64,
    /// The model generation and `version` the tree's set of pinned processes was made for.
    only_for: Option<(u64, u64)>,
}

impl PinsState {
    /// Restricts the tree to the pinned subtrees while that view is on. The set is made
    /// anew only when the model or the pins changed since it was last made.
    pub fn restrict(&mut self, tracker: &Tracker, options: &mut TreeOptions) {
        if !self.only {
            options.only = None;
            self.only_for = None;
            return;
        }
        let now = (tracker.model().generation(), self.version);
        if self.only_for != Some(now) || options.only.is_none() {
            let pinned = tracker.pins().list().iter().flat_map(Pin::known);
            options.only = Some(Only::new(pinned));
            self.only_for = Some(now);
        }
    }

    fn changed(&mut self, pins: &Pins) {
        self.version += 1;
        if pins.is_empty() {
            self.only = false;
        }
    }

    /// Takes every pin away, as its root and mask, to be made again with
    /// [`PinsState::remake`]: for a replay that goes back to its snapshot, where the
    /// members pins had are not yet known.
    pub fn take(&mut self, pins: &mut Pins) -> Vec<(ProcessKey, KindSet)> {
        let taken = pins.list().iter().map(|p| (p.root(), p.mask())).collect();
        *pins = Pins::default();
        self.version += 1;
        taken
    }

    /// Makes the pins `taken` again on `model`, with their masks; returns those whose root
    /// is not in its tree. With `last`, those are given up.
    pub fn remake(
        &mut self,
        pins: &mut Pins,
        model: &Model,
        taken: Vec<(ProcessKey, KindSet)>,
        last: bool,
    ) -> Vec<(ProcessKey, KindSet)> {
        let missing = taken
            .into_iter()
            .filter(|&(root, mask)| match pins.add(model, root) {
                Ok(pin) => {
                    pin.set_mask(mask);
                    false
                }
                Err(_) => true,
            })
            .collect();
        if last {
            self.changed(pins);
        } else {
            self.version += 1;
        }
        missing
    }
}

/// A mask as the pane shows it: loss reports always pass, so they are not named.
pub fn mask_text(mask: KindSet) -> String {
    let kinds = mask.without(KindName::Lost);
    if kinds == KindSet::ALL.without(KindName::Lost) {
        "every event".to_owned()
    } else if kinds == KindSet::NONE {
        "no events".to_owned()
    } else {
        kinds.to_string()
    }
}

/// `pid (comm)` of a process, or its pid if the model has forgotten it.
pub fn name_of(model: &Model, key: ProcessKey) -> String {
    match model.get(key) {
        Some(p) => format!("{} ({})", shown_pid(key.pid), p.comm),
        None => shown_pid(key.pid).to_string(),
    }
}

/// The pin `key` (the selected process) belongs to, by its place in the list: the one
/// rooted at it, else the first that holds it.
pub fn pin_at(tracker: &Tracker, key: Option<ProcessKey>) -> Option<usize> {
    let key = key?;
    let list = tracker.pins().list();
    list.iter()
        .position(|p| p.root() == key)
        .or_else(|| list.iter().position(|p| p.membership(key).is_some()))
}

/// The pin keys act on: the one rooted at `picked` (the pin picked in the pane that has
/// the keys), else the `selected` process's.
pub fn current_pin(
    tracker: &Tracker,
    picked: Option<ProcessKey>,
    selected: Option<ProcessKey>,
) -> Option<&Pin> {
    let pins = tracker.pins();
    match picked {
        Some(root) => pins.get(root),
        None => pin_at(tracker, selected).and_then(|at| pins.list().get(at)),
    }
}

/// Sets the mask of the pin rooted at `root`, if there still is one; what to say.
pub fn set_mask(tracker: &mut Tracker, root: ProcessKey, mask: KindSet) -> Option<String> {
    let pin = tracker.pins_mut().0.get_mut(root)?;
    pin.set_mask(mask);
    Some(format!(
        "pin {} logs {}",
        shown_pid(root.pid),
        mask_text(mask)
    ))
}

impl PinsState {
    /// `--pin PID`: pins the subtree of the live process with this pid.
    pub fn pin_pid(&mut self, tracker: &mut Tracker, pid: u32) -> Result<()> {
        let (pins, model) = tracker.pins_mut();
        pins.add_pid(model, pid)?;
        self.changed(tracker.pins());
        Ok(())
    }

    /// `p`: pins the subtree of `key`, or unpins it. Says what happened, and where in the
    /// list a new pin is.
    pub fn toggle(&mut self, tracker: &mut Tracker, key: ProcessKey) -> (String, Option<usize>) {
        let name = name_of(tracker.model(), key);
        let (pins, model) = tracker.pins_mut();
        let said = match pins.toggle(model, key) {
            Ok(true) => {
                let alive = pins.get(key).map_or(0, Pin::alive);
                let at = pins.len() - 1;
                (
                    format!("pinned {name}: {alive} alive in its subtree"),
                    Some(at),
                )
            }
            Ok(false) => (format!("unpinned {name}"), None),
            Err(e) => (format!("cannot pin {name}: {e}"), None),
        };
        self.changed(tracker.pins());
        said
    }

    /// `v`: only pinned subtrees in the tree, or everything again; what to say if it
    /// cannot.
    pub fn toggle_only(&mut self, tracker: &Tracker) -> Option<&'static str> {
        if tracker.pins().is_empty() {
            return Some(NOTHING_PINNED);
        }
        // The status line says whether the view is on.
        self.only = !self.only;
        None
    }

    /// Whether the tree shows only pinned subtrees.
    pub fn only(&self) -> bool {
        self.only
    }
}

/// What `m` and `v` say with no pin.
pub const NOTHING_PINNED: &str = "nothing is pinned: p pins the selected process's subtree";

/// The status line's pins segment: how many, and whether only they are shown.
pub fn status(tracker: &Tracker, shown: &PinsState) -> Option<Vec<Span<'static>>> {
    let n = tracker.pins().len();
    if n == 0 {
        return None;
    }
    let mut spans = vec![Span::raw(match n {
        1 => "1 pin".to_owned(),
        n => format!("{n} pins"),
    })];
    if shown.only {
        spans.push(", only pinned shown".yellow());
    }
    Some(spans)
}
