//! The messages of the terminal UI: what can happen to the application ([`AppEvent`]),
//! and what its state asks of the loop that owns it, either at once ([`Effect`], whose
//! outcome comes back as [`Done`]) or as work that takes time ([`Request`]).

use crossterm::event::Event as Input;

use super::{
    look::Column,
    record,
    relay_dialog::{self, RelayDialog},
    replay,
    signal_dialog::Signalling,
};
use crate::{
    event::Event,
    proc::snapshot::ProcessInfo,
    relay::Sent,
    source::Filtering,
    tracker::{
        self,
        rules::{Delivery, TargetId},
    },
};

/// Everything that can happen to the application. Every source of them (the event
/// source, the terminal, timers, signals) sends them down one channel to the task that
/// owns the [`App`](super::App).
#[derive(Debug)]
pub enum AppEvent {
    /// Events from the source, in the order it gave them.
    Events(Vec<Event>),
    /// The source has nothing more to give.
    SourceEnded,
    /// The source failed: the application stops and says why.
    SourceFailed(String),
    /// A key, a mouse action or a resize.
    Input(Input),
    /// Time passes: the time now, CLOCK_BOOTTIME nanoseconds. Ages, the highlight of new
    /// processes, the event rate and the linger of exited processes follow it.
    Tick(u64),
    /// The answer to [`Request::Snapshot`].
    Snapshot(Result<Vec<ProcessInfo>, String>),
    /// Where a replay is, or that it went back to its start (see `replay`).
    Replay(replay::Report),
    /// How the recording made with `--record` goes (see `record`).
    Recording(record::Status),
    /// A relay target has exited ([`super::App::relay_target_exited`]).
    RelayTargetExited,
    /// What came of an [`Effect`].
    Done(Done),
    /// What the source does about the subtrees [`Request::Follow`] asked it to follow.
    Filtering(Filtering),
    /// SIGINT or SIGTERM: quit.
    Stop,
}

/// Work the state asks of the loop right after the update that asked: it touches the
/// outside world but never waits. What came of it comes back as [`AppEvent::Done`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The signals the relay rules ask for.
    Relay(Vec<tracker::Effect>),
    /// A relay target's pidfd says it exited: which ones did?
    CheckRelayTargets,
    /// A relay rule was removed: the pidfds of its targets are closed.
    CloseRelayTargets(Vec<TargetId>),
    /// The relay dialog, with what it needs of the outside world to go on.
    RelayDialog(Box<RelayDialog>, relay_dialog::Ask),
    /// A signal the user chose, for the processes as they were picked.
    Signal(Signalling),
    /// The columns chosen in the columns dialog, to save in the config file.
    SaveColumns(Vec<Column>),
}

/// What came of an [`Effect`].
#[derive(Debug)]
pub enum Done {
    /// What became of each relay signal.
    Delivered(Vec<(TargetId, Delivery)>),
    /// The relay targets that exited, their pidfds closed.
    TargetsExited(Vec<TargetId>),
    /// What the kernel counted for the targets the probe signals: sent, undelivered.
    CountedInKernel(Vec<(TargetId, u64, u64)>),
    /// The relay dialog, back with what it needed.
    RelayDialog(Box<RelayDialog>, relay_dialog::Answer),
    /// What came of the signal to each target, in order.
    Signalled(Signalling, Vec<Sent>),
    /// What saving the columns said it did, or why it could not.
    ColumnsSaved(Result<String, String>),
}

/// Work the state asks of the loop that owns it, because it blocks or takes time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// A fresh /proc snapshot, answered with [`AppEvent::Snapshot`].
    Snapshot,
    /// Play, pause, step or seek the replay: handed to the feed, answered with
    /// [`AppEvent::Replay`] (and the events a seek brings at once).
    Replay(replay::Control),
    /// The source is to follow [`App::subtrees_to_follow`](super::App::subtrees_to_follow)
    /// (none: send every event), answered with [`AppEvent::Filtering`].
    Follow,
}
