//! The one interface of what is kept beside the model and follows its changes: a pin, a
//! relay rule, and the lists of them. Each updates from what the model says it changed,
//! never by scanning the tree.

use super::{
    Outcome,
    model::{Applied, Model},
};
use crate::event::Event;

/// A change the model has just made, as a follower is told of it.
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    /// The model, after the change.
    pub model: &'a Model,
    /// What changed: what [`Model::apply`] or [`Model::reconcile`] said.
    pub applied: &'a Applied,
    /// The event that made the change; `None` for a change a re-sync with /proc found.
    pub event: Option<&'a Event>,
}

impl<'a> Change<'a> {
    /// What applying `event` changed.
    pub fn of_event(model: &'a Model, event: &'a Event, applied: &'a Applied) -> Self {
        Self {
            model,
            applied,
            event: Some(event),
        }
    }

    /// One change of a re-sync with /proc, without its event.
    pub fn of_resync(model: &'a Model, applied: &'a Applied) -> Self {
        Self {
            model,
            applied,
            event: None,
        }
    }
}

/// Something that follows the model's changes: told each one after the model made it.
pub trait Follower {
    /// Takes in `change`; what it asks of the driver or tells the user goes to `out`. True
    /// if the change's event concerns the follower and passes its mask: a pin logged it, a
    /// rule relayed it.
    fn follow(&mut self, change: &Change<'_>, out: &mut Outcome) -> bool;
}
