//! Tagged processes (Space, as in htop): marked in the tree, signalled together by `k` and
//! pinned together by `p`. Processes the model has forgotten are untagged, so the set
//! never outgrows the model.

use std::collections::BTreeSet;

use crate::{event::ProcessKey, tracker::model::Model};

/// The tagged processes, in pid order.
#[derive(Debug, Default)]
pub struct Tags(BTreeSet<ProcessKey>);

impl Tags {
    /// Tags `key`, or untags it if it was; whether it is tagged now.
    pub fn toggle(&mut self, key: ProcessKey) -> bool {
        if self.0.remove(&key) {
            return false;
        }
        self.0.insert(key)
    }

    pub fn contains(&self, key: ProcessKey) -> bool {
        self.0.contains(&key)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn keys(&self) -> Vec<ProcessKey> {
        self.0.iter().copied().collect()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Untags the processes `model` no longer has.
    pub fn keep_known(&mut self, model: &Model) {
        if !self.0.is_empty() {
            self.0.retain(|&key| model.get(key).is_some());
        }
    }
}
