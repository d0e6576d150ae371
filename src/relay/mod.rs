//! Relay, the driver's side: what the relay rules of the [`Tracker`] need from the outside
//! world. The drivers (the headless `relay`, the UI's loop) own a [`Targets`]: a new rule's
//! process to match and targets are opened here (the targets as pidfds, after /proc
//! checks) before the rule is handed to the tracker; the signals the tracker asks for
//! ([`Effect::Signal`]) are sent here through those pidfds; a target's exit is noticed
//! here. What came of each goes back to the tracker, which keeps the counts and says what
//! the user should know. The signal a user sends from the UI (`k`) goes the same way:
//! through a pidfd for the process as it was picked ([`signal`]).

mod kernel;
mod kill;
mod target;

use std::{future::poll_fn, task::Poll, time::Duration};

use anyhow::{Result, anyhow};

pub use kill::{Sent, signal};
pub use target::pick;

use kernel::Kernel;

use crate::{
    event::ProcessKey,
    pidfd::PidFd,
    source::ebpf::KernelRelay,
    tracker::{
        Effect, Tracker,
        rules::{
            Delivery, Match, Matched, NewRule, Notice, Opened, Picked, RuleId, RuleSpec, SendPath,
            Sender, TargetId, siginfo,
        },
    },
};

/// The probe's wakeup gap ([`crate::source::ebpf::ProbeOptions::wakeup_gap`]) while relaying: an
/// event that falls within the gap waits for the reader's next poll, two gaps later, and
/// a relayed signal should arrive well within a millisecond. It still caps wake-ups at
/// 10,000 a second in a fork storm.
pub const WAKEUP_GAP: Duration = Duration::from_micros(100);

/// The processes a rule names that were picked before it was made (in the UI's relay
/// dialog), each held as it was then. A pid of the rule that is not here is resolved when
/// the rule is made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Picks {
    pub targets: Vec<Picked>,
    /// The process whose events, or whose subtree's, the rule matches.
    pub matched: Option<Picked>,
}

impl Picks {
    /// The target picked with this pid, else the live process that has it now.
    fn target(&self, pid: u32) -> Result<Picked> {
        match self.targets.iter().find(|p| p.key.pid == pid) {
            Some(&picked) => Ok(picked),
            None => pick(pid),
        }
    }

    /// The process matched, if it was picked with this pid.
    fn matched(&self, pid: u32) -> Option<Picked> {
        self.matched.filter(|p| p.key.pid == pid)
    }
}

/// A target's pidfd, and its entry in the probe's relay map if the probe signals it.
#[derive(Debug)]
struct Held {
    id: TargetId,
    pid: u32,
    pidfd: PidFd,
    slot: Option<u32>,
}

/// The pidfds of every relay target still there, by the [`TargetId`] the tracker knows
/// them by, and the in-kernel relay for rules that ask for it.
#[derive(Debug, Default)]
pub struct Targets {
    held: Vec<Held>,
    next_id: u32,
    kernel: Kernel,
}

impl Targets {
    /// Targets whose rules may ask the probe to send their signals: the in-kernel relay the
    /// source loaded, or why it could not.
    pub fn with_kernel_relay(relay: Result<KernelRelay, String>) -> Self {
        Self {
            kernel: Kernel::new(relay),
            ..Self::default()
        }
    }

    /// Opens what `spec` names, its pids resolved now (or as `picks` holds them): the
    /// process to match, as /proc shows it (or, for a subtree, as the tracker's model holds
    /// it), and each target as a pidfd. Fails, opening nothing, if a target or the process
    /// to match does not exist or cannot be one; one picked that has exited since, or whose
    /// pid now names another process, is refused. Must run inside a tokio runtime.
    pub fn open(&mut self, tracker: &Tracker, spec: RuleSpec, picks: &Picks) -> Result<NewRule> {
        let matched = match spec.matching {
            Match::Any => Matched::Any,
            Match::Pid(pid) => Matched::Process(match picks.matched(pid) {
                Some(picked) => target::still_there(&picked).map(|_| picked.key)?,
                None => {
                    pick(pid)
                        .map_err(|e| anyhow!("{e} to relay the events of"))?
                        .key
                }
            }),
            Match::Subtree(root) => tracker.subtree(root, picks.matched(root))?,
        };
        let opened = spec
            .targets
            .iter()
            .map(|&pid| target::open(picks.target(pid)?))
            .collect::<Result<Vec<_>>>()?;
        let (sender, mut slots) = self.in_kernel(&spec, &matched, &opened);
        let targets = opened
            .into_iter()
            .map(|open| {
                self.next_id += 1;
                let id = TargetId(self.next_id);
                let pid = open.process.pid;
                let prepared = target::is_prepared_for(pid, spec.signal);
                self.held.push(Held {
                    id,
                    pid,
                    pidfd: open.pidfd,
                    slot: slots.next(),
                });
                Opened {
                    id,
                    pid,
                    comm: open.process.comm,
                    prepared,
                }
            })
            .collect();
        Ok(NewRule {
            spec,
            matched,
            targets,
            sender,
        })
    }

    /// Says whether the source follows the subtrees of the rules that match one in the
    /// kernel ([`crate::source::Feed::follow_only`]): the probe can relay such rules only then.
    pub fn follow_subtrees(&mut self, filtering: &crate::source::Filtering) {
        self.kernel.follow_subtrees(filtering);
    }

    /// Who sends the signals of a rule on `opened` targets; for the probe, their entries
    /// are written into its map and their slots come back in order.
    fn in_kernel(
        &mut self,
        spec: &RuleSpec,
        matched: &Matched,
        opened: &[target::Open],
    ) -> (Sender, std::vec::IntoIter<u32>) {
        if spec.path == SendPath::User {
            return (Sender::User, Vec::new().into_iter());
        }
        let entries = opened
            .iter()
            .map(|open| {
                let target = ProcessKey::new(open.process.pid, open.process.start_ns);
                self.kernel.entry(spec, matched, target)
            })
            .collect::<Result<Vec<_>, String>>()
            .and_then(|entries| self.kernel.add(&entries));
        match entries {
            Ok(slots) => (Sender::Kernel, slots.into_iter()),
            Err(why) => (Sender::UserInstead(why), Vec::new().into_iter()),
        }
    }

    /// What the kernel counted for the targets the probe signals (sent, undelivered), every
    /// 50 ms while events flow or now with `now` (before a summary); empty when not due.
    pub fn kernel_counts(&mut self, now: bool) -> Vec<(TargetId, u64, u64)> {
        // Called at every turn of the UI's loop: nothing to gather without such a target.
        if self.held.iter().all(|h| h.slot.is_none()) {
            return Vec::new();
        }
        let (ids, slots): (Vec<TargetId>, Vec<u32>) = self
            .held
            .iter()
            .filter_map(|h| Some((h.id, h.slot?)))
            .unzip();
        match self.kernel.counts(&slots, now) {
            // A count that could not be read leaves the one shown as it was.
            Some(counts) => ids
                .into_iter()
                .zip(counts)
                .filter_map(|(id, counts)| {
                    counts.map(|(sent, undelivered)| (id, sent, undelivered))
                })
                .collect(),
            None => Vec::new(),
        }
    }

    /// Tells the tracker [`Targets::kernel_counts`].
    pub fn count_in_kernel(&mut self, tracker: &mut Tracker, now: bool) {
        for (id, sent, undelivered) in self.kernel_counts(now) {
            tracker.counted_in_kernel(id, sent, undelivered);
        }
    }

    /// Opens what `spec` names ([`Targets::open`]) and adds the rule to `tracker`; its
    /// warnings go to `notices`.
    pub fn add_rule(
        &mut self,
        tracker: &mut Tracker,
        spec: RuleSpec,
        notices: &mut Vec<Notice>,
    ) -> Result<RuleId> {
        let rule = self.open(tracker, spec, &Picks::default())?;
        let (id, warnings) = tracker.add_rule(rule);
        notices.extend(warnings);
        Ok(id)
    }

    /// Sends the signals `effects` ask for, in order; what became of each. Never blocks.
    /// A target found gone has its pidfd closed; one closed already is gone.
    pub fn send(&mut self, effects: &[Effect]) -> Vec<(TargetId, Delivery)> {
        effects
            .iter()
            .map(
                |&Effect::Signal {
                     target,
                     signal,
                     fields,
                 }| {
                    let Some(at) = self.held.iter().position(|h| h.id == target) else {
                        return (target, Delivery::Gone);
                    };
                    let held = &self.held[at];
                    let delivery = target::send(&held.pidfd, held.pid, &siginfo(signal, fields));
                    if delivery == Delivery::Gone
                        && let Some(slot) = self.held.remove(at).slot
                    {
                        self.kernel.remove(slot);
                    }
                    (target, delivery)
                },
            )
            .collect()
    }

    /// Performs the tracker's effects ([`Targets::send`]) and tells it what came of them;
    /// targets found gone are said in `notices`.
    pub fn perform(
        &mut self,
        tracker: &mut Tracker,
        effects: &[Effect],
        notices: &mut Vec<Notice>,
    ) {
        for (target, delivery) in self.send(effects) {
            notices.extend(tracker.delivered(target, delivery));
        }
    }

    /// Resolves when a target has exited; then call [`Targets::take_exited`]. Pending
    /// forever while no target is left.
    pub async fn exited(&self) {
        poll_fn(|cx| {
            for held in &self.held {
                if held.pidfd.poll_exit(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        })
        .await
    }

    /// The targets that have exited, their pidfds closed.
    pub fn take_exited(&mut self) -> Vec<TargetId> {
        let mut exited = Vec::new();
        let mut freed = Vec::new();
        self.held.retain(|held| {
            let gone = held.pidfd.has_exited();
            if gone {
                exited.push(held.id);
                freed.extend(held.slot);
            }
            !gone
        });
        for slot in freed {
            self.kernel.remove(slot);
        }
        exited
    }

    /// Drops the targets that have exited ([`Targets::take_exited`]) from the tracker's
    /// rules, saying so in `notices`.
    pub fn drop_exited(&mut self, tracker: &mut Tracker, notices: &mut Vec<Notice>) {
        // The kernel's last counts for them, before their entries are emptied.
        self.count_in_kernel(tracker, true);
        for target in self.take_exited() {
            notices.extend(tracker.target_exited(target));
        }
    }

    /// Closes the pidfds of these targets (their rule was removed).
    pub fn close(&mut self, targets: &[TargetId]) {
        let (closed, kept) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|held| targets.contains(&held.id));
        self.held = kept;
        for held in closed {
            if let Some(slot) = held.slot {
                self.kernel.remove(slot);
            }
        }
    }
}
