//! What the keys of the tree view do to the application ([`App::perform`]): an action of
//! the bindings table (see `keys`), looked up once.

use super::{
    super::{
        columns_dialog::ColumnsDialog,
        component::Happened,
        dialog::{Help, Prompt, PromptPurpose},
        keys::Action,
        mask::MaskDialog,
        panes::Pane,
        pins::current_pin,
        relay_dialog::RelayDialog,
        replay,
        signal_dialog::SignalDialog,
        user_dialog::UserDialog,
    },
    App,
};

impl App {
    pub(super) fn perform(&mut self, action: Action) {
        match action {
            Action::Search => self.open(Prompt::new(PromptPurpose::Search, &self.tree)),
            Action::Filter => {
                if !self.tree.toggle_filter() {
                    self.open(Prompt::new(PromptPurpose::Filter, &self.tree));
                }
            }
            Action::Pane(pane) => self.toggle_pane(pane),
            Action::Pin => self.toggle_pin(),
            Action::PinMask => self.open_mask(),
            Action::PinnedView => {
                if let Some(why) = self.tree.pins.toggle_only(&self.tracker) {
                    self.say(why);
                }
            }
            Action::Relay if let Some(replay) = &self.replay => {
                self.say(replay.refusal("relays"));
            }
            // For the picked pin's subtree while the pins pane has the keys.
            Action::Relay => {
                let subtree = self.picked();
                let subject = subtree.or(self.selected());
                self.open(RelayDialog::new(self.model(), subject, subtree.is_some()));
            }
            Action::FilterPrompt => self.open(Prompt::new(PromptPurpose::Filter, &self.tree)),
            Action::User => self.open(UserDialog::new(self.model(), self.tree.options.user)),
            Action::FlatList => {
                let flat = !self.tree.options.flat;
                self.tree.options.flat = flat;
                let by = self.tree.options.sort.by.name();
                self.say(if flat {
                    format!("flat list, by {by}")
                } else {
                    "tree".to_owned()
                });
            }
            Action::Columns => self.open(ColumnsDialog::new(&self.tree.look.columns)),
            Action::Tag => self.tag(),
            Action::Untag => {
                self.say(format!("{} untagged", self.tree.tags.len()));
                self.tree.tags.clear();
            }
            Action::Signal if let Some(replay) = &self.replay => {
                self.say(replay.refusal("signals"));
            }
            Action::Signal => self.open_signal(),
            Action::Help => self.open(Help::new(&self.keymap, self.replay.is_some())),
            Action::Dismiss => {
                if self.banner {
                    self.banner = false;
                } else {
                    self.tree.search = None;
                }
            }
            Action::Quit => self.quit = true,
            Action::Replay(_) | Action::SeekPrompt => {
                if self
                    .with_replay(|controls, app| controls.key(action, app))
                    .is_none()
                {
                    self.say(replay::NOT_LIVE);
                }
            }
            // The rest are the tree's own: they move, fold, search, show kernel threads.
            _ => {
                let handled = self.tree.act(action, self.tracker.model());
                self.handled(handled);
            }
        }
    }

    /// Shows or hides `pane`. One that lists things is shown with the keys, and hidden
    /// if it has them.
    fn toggle_pane(&mut self, pane: Pane) {
        if !self.panes.is_open(pane) {
            let subject = self.picked().or(self.selected());
            self.with_pane(pane, |pane, _| pane.opened(subject));
        }
        if pane.entry().takes_keys && self.focus != Some(pane) {
            self.with_pane(pane, |pane, view| pane.focused(view));
            self.focus = Some(pane);
            if self.panes.is_open(pane) {
                return;
            }
        } else if self.focus == Some(pane) {
            self.focus = None;
        }
        self.panes.toggle(pane);
    }

    /// `p`: pins the selected process's subtree, or unpins it; in the pins pane, unpins
    /// the picked pin (with none, pins the selected process's). With tagged processes
    /// (and no pin picked), pins theirs.
    fn toggle_pin(&mut self) {
        if !self.tree.tags.is_empty() && self.picked().is_none() {
            return self.pin_tagged();
        }
        let Some(key) = self.picked().or(self.tree.cursor.key) else {
            self.say("no process selected");
            return;
        };
        let (said, pinned) = self.tree.pins.toggle(&mut self.tracker, key);
        self.say(said);
        if let Some(at) = pinned {
            self.panes.happened(Happened::Pinned { at });
        }
    }

    /// `m`: the mask dialog of the current pin.
    fn open_mask(&mut self) {
        let pin = current_pin(&self.tracker, self.picked(), self.selected());
        match MaskDialog::for_pin(pin, &self.tracker) {
            Ok(dialog) => self.open(dialog),
            Err(why) => self.say(why),
        }
    }

    /// The tagged processes' subtrees pinned, those not pinned yet; if all were, unpinned.
    fn pin_tagged(&mut self) {
        let tagged = self.tree.tags.keys();
        let unpinned: Vec<_> = tagged
            .iter()
            .copied()
            .filter(|&key| self.tracker.pins().get(key).is_none())
            .collect();
        let pin = !unpinned.is_empty();
        let todo = if pin { unpinned } else { tagged };
        let mut done = 0;
        for &key in &todo {
            let (_, pinned) = self.tree.pins.toggle(&mut self.tracker, key);
            if let Some(at) = pinned {
                self.panes.happened(Happened::Pinned { at });
            }
            // Unpinning cannot fail; pinning can (a process gone since it was tagged).
            if pinned.is_some() || !pin {
                done += 1;
            }
        }
        let verb = if pin { "pinned" } else { "unpinned" };
        self.say(format!(
            "{verb} the subtrees of {done} of {} tagged processes",
            todo.len()
        ));
    }

    /// Space: tags or untags the selected process, and moves down as htop does, so that
    /// a run of processes is tagged by holding it.
    fn tag(&mut self) {
        let Some(key) = self.selected() else {
            self.say("no process selected");
            return;
        };
        self.tree.tags.toggle(key);
        self.tree.act(Action::Down, self.tracker.model());
    }

    /// `k`: the signal dialog for the tagged processes, or else the selected one.
    fn open_signal(&mut self) {
        let tagged = self.tree.tags.keys();
        if !tagged.is_empty() {
            return self.open(SignalDialog::new(self.model(), &tagged, true));
        }
        let Some(key) = self.selected() else {
            self.say("no process selected");
            return;
        };
        if self.model().get(key).is_some_and(|p| !p.is_alive()) {
            self.say(format!("pid {} has exited: no signal to send", key.pid));
            return;
        }
        self.open(SignalDialog::new(self.model(), &[key], false));
    }
}
