//! The pinned-only view (`v`) with the eBPF probe: while only the pins are shown, the
//! source is asked to send only the pinned subtrees' events ([`Feed::follow_only`]), so
//! that the rest of the machine costs nothing. The pins still decide what is shown; the
//! kernel's filter only keeps from user space what no pin wants. Relay rules that are not
//! on a subtree need every event: with one, nothing is asked. Once every event comes again,
//! the model catches up on what it missed with a re-read of /proc.
//!
//! [`Feed::follow_only`]: crate::source::Feed::follow_only

use super::{super::message::Request, App};
use crate::{
    event::ProcessKey,
    source::{Filtering, Subtree},
};

impl App {
    /// The subtrees the source should follow now: none unless only pins are shown, live.
    pub fn subtrees_to_follow(&self) -> Vec<Subtree> {
        if self.replay.is_some() || !self.tree.pins.only() {
            return Vec::new();
        }
        let relays = self.tracker.relays();
        let relayed = if relays.rules().is_empty() {
            Vec::new()
        } else {
            match relays.subtrees() {
                Some(subtrees) => subtrees,
                None => return Vec::new(),
            }
        };
        let mut subtrees = self.tracker.pins().subtrees();
        subtrees.extend(relayed);
        subtrees
    }

    /// Asks the loop to tell the source when the subtrees to follow changed. Called at
    /// every turn of the loop: without relay rules, it lists no members.
    pub(super) fn check_following(&mut self) {
        let roots: Vec<ProcessKey> = if self.tracker.relays().rules().is_empty() {
            let live_and_only = self.replay.is_none() && self.tree.pins.only();
            let pins = self.tracker.pins().list().iter().map(|p| p.root());
            pins.filter(|_| live_and_only).collect()
        } else {
            let subtrees = self.subtrees_to_follow();
            subtrees.iter().map(|s| s.root).collect()
        };
        if roots != self.followed_roots {
            self.followed_roots = roots;
            self.requests.push(Request::Follow);
        }
    }

    /// What the source said it does about the subtrees asked for.
    pub(super) fn filtering_now(&mut self, filtering: Filtering) {
        let was_in_kernel = self.filtering == Some(Filtering::Kernel);
        if self.tree.pins.only() {
            self.say(format!("only pinned shown, {filtering}"));
        } else if was_in_kernel {
            self.tracker.start_resync(self.now_ns());
            self.requests.push(Request::Snapshot);
        }
        self.filtering = Some(filtering);
    }
}
