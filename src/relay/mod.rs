//! Relay: forwards matching process events to chosen processes as real-time signals, in
//! the siginfo layouts of relay-fork (2005) and kmonitor (2004), so programs written for
//! those interfaces can do their own process accounting from the signals alone.
//!
//! [`Relays`] is plain state owned by whoever owns the event stream (the UI's state, or the
//! headless `relay` command): [`Relays::handle`] every event, select on
//! [`Relays::target_exited`] and then call [`Relays::drop_exited`], show the [`Notice`]s.
//! Rules that match a subtree follow it with a [`Pin`], which needs the process tree: the
//! owner of a [`Model`] passes it, with what applying each event changed.

mod layout;
mod signal;
mod spec;
mod target;

use std::{fmt, future::poll_fn, task::Poll, time::Duration};

use anyhow::{Result, anyhow, bail};

pub use layout::Layout;
pub use signal::RtSignal;
pub use spec::{Match, RuleFields, RuleSpec};
pub use target::{Picked, Picks, Target};

use crate::{
    clock,
    event::{Comm, Event, Kind, ProcessKey},
    model::{Applied, Model},
    pins::{self, Pin},
};
use layout::siginfo;
use target::Delivery;

/// The probe's wakeup gap ([`crate::source::ebpf::ProbeOptions::wakeup_gap`]) while relaying: an
/// event that falls within the gap waits for the reader's next poll, two gaps later, and
/// a relayed signal should arrive well within a millisecond. It still caps wake-ups at
/// 10,000 a second in a fork storm.
pub const WAKEUP_GAP: Duration = Duration::from_micros(100);

/// Names a rule for as long as it exists; never reused within one [`Relays`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u32);

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "relay {}", self.0)
    }
}

/// Something the user should see: a change no one asked for, or a risk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A target exited and was dropped from its rule.
    TargetGone { rule: RuleId, pid: u32, comm: Comm },
    /// A new target neither blocks, ignores nor catches the rule's signal: unless it starts
    /// to, the first relayed signal kills it.
    TargetUnprepared {
        rule: RuleId,
        pid: u32,
        comm: Comm,
        signal: RtSignal,
    },
    /// The process a rule matches has exited: the rule relays nothing more.
    MatchEnded { rule: RuleId, pid: u32 },
    /// No process is left in the subtree a rule matches: the rule relays nothing more.
    SubtreeEnded { rule: RuleId, root: u32 },
    /// The event source lost events; any signals they called for were never sent.
    EventsLost { count: u64 },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TargetGone { rule, pid, comm } => {
                write!(
                    f,
                    "{rule}: target pid {pid} ({comm}) exited and was dropped"
                )
            }
            Self::TargetUnprepared {
                rule,
                pid,
                comm,
                signal,
            } => write!(
                f,
                "{rule}: target pid {pid} ({comm}) neither blocks nor handles {signal}; \
                 the first relayed signal will kill it unless it does"
            ),
            Self::MatchEnded { rule, pid } => {
                write!(f, "{rule}: pid {pid} exited; the rule matches nothing more")
            }
            Self::SubtreeEnded { rule, root } => write!(
                f,
                "{rule}: no process is left in the subtree of pid {root}; \
                 the rule matches nothing more"
            ),
            Self::EventsLost { count } => write!(
                f,
                "{count} events were lost before the relay saw them; their signals were not sent"
            ),
        }
    }
}

/// Whose events a rule relays, resolved when the rule is made.
#[derive(Debug)]
enum Matcher {
    Any,
    /// This process; `ended` once it is known to have exited, after which the pid may
    /// belong to another process.
    Pid {
        key: ProcessKey,
        ended: bool,
    },
    /// The members of a pin on the subtree; boxed, being many times the others' size.
    Subtree(Box<Pin>),
}

/// A rule and what it has done so far.
#[derive(Debug)]
pub struct Rule {
    id: RuleId,
    spec: RuleSpec,
    matcher: Matcher,
    targets: Vec<Target>,
    matched: u64,
}

impl Rule {
    fn open(
        id: RuleId,
        spec: RuleSpec,
        picks: &Picks,
        model: Option<&Model>,
        notices: &mut Vec<Notice>,
    ) -> Result<Self> {
        let matcher = match spec.matching {
            Match::Any => Matcher::Any,
            Match::Pid(pid) => {
                let key = match picks.matched(pid) {
                    Some(picked) => picked.still_there().map(|_| picked.key)?,
                    None => {
                        Picked::now(pid)
                            .map_err(|e| anyhow!("{e} to relay the events of"))?
                            .key
                    }
                };
                Matcher::Pid { key, ended: false }
            }
            Match::Subtree(root) => {
                let Some(model) = model else {
                    bail!("a rule that matches a subtree needs the process tree");
                };
                let root = match picks.matched(root) {
                    Some(picked) => live_in(model, picked)?,
                    None => pins::live_root(model, root)
                        .map_err(|e| anyhow!("{e} to relay the subtree of"))?,
                };
                let mut pin = Pin::new(model, root)?;
                // Its events are relayed, not kept.
                pin.set_log_len(0);
                Matcher::Subtree(Box::new(pin))
            }
        };
        let targets = spec
            .targets
            .iter()
            .map(|&pid| Target::open(picks.target(pid)?))
            .collect::<Result<Vec<_>>>()?;
        for target in targets.iter().filter(|t| !t.is_prepared_for(spec.signal)) {
            notices.push(Notice::TargetUnprepared {
                rule: id,
                pid: target.pid(),
                comm: target.comm(),
                signal: spec.signal,
            });
        }
        Ok(Self {
            id,
            spec,
            matcher,
            targets,
            matched: 0,
        })
    }

    pub fn id(&self) -> RuleId {
        self.id
    }

    /// What the rule was made from: its kinds, match, signal, layout and target pids.
    pub fn spec(&self) -> &RuleSpec {
        &self.spec
    }

    /// Every target it was made with, in order, including those that exited since
    /// ([`Target::is_gone`]), so their counts stay visible.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Events that matched and were relayed (to each target still there).
    pub fn matched(&self) -> u64 {
        self.matched
    }

    pub fn sent(&self) -> u64 {
        self.targets.iter().map(Target::sent).sum()
    }

    pub fn undelivered(&self) -> u64 {
        self.targets.iter().map(Target::undelivered).sum()
    }

    /// Whether it can still send anything: a target is left and its match can still match.
    pub fn is_live(&self) -> bool {
        let match_ended = match &self.matcher {
            Matcher::Any => false,
            Matcher::Pid { ended, .. } => *ended,
            Matcher::Subtree(pin) => pin.is_empty(),
        };
        !match_ended && self.targets.iter().any(|t| !t.is_gone())
    }

    /// Updates a subtree's members from a change the model made; says when none is left.
    /// A process matched that a re-sync found gone has ended, its exit event lost.
    fn follow(&mut self, model: &Model, applied: &Applied, notices: &mut Vec<Notice>) {
        match &mut self.matcher {
            Matcher::Subtree(pin) if !pin.is_empty() => {
                pin.follow(model, applied);
                subtree_ended(self.id, pin, notices);
            }
            Matcher::Pid { key, ended }
                if !*ended && applied.exited && applied.key == Some(*key) =>
            {
                *ended = true;
                notices.push(Notice::MatchEnded {
                    rule: self.id,
                    pid: key.pid,
                });
            }
            _ => {}
        }
    }

    fn matches(
        &mut self,
        event: &Event,
        tree: Option<(&Model, &Applied)>,
        notices: &mut Vec<Notice>,
    ) -> bool {
        match &mut self.matcher {
            Matcher::Any => true,
            Matcher::Subtree(pin) => match tree {
                Some((model, applied)) if !pin.is_empty() => {
                    let concerns = pin.apply(model, event, applied);
                    subtree_ended(self.id, pin, notices);
                    concerns
                }
                _ => false,
            },
            Matcher::Pid { key, ended } => {
                if *ended {
                    return false;
                }
                let process = ProcessKey::of(event);
                let own = process == *key;
                // A pid is given again only once its process is reaped: a later process
                // with its pid means it has exited, even if its exit event was lost.
                let replaced = event.pid == key.pid && process.start_ticks > key.start_ticks;
                // A fork's event concerns the child; its parent is whoever had the pid the
                // fork names when the child was born: this process, if the child is not
                // older than it and no later process had its pid by then (`ended`).
                let its_fork = matches!(event.kind, Kind::Fork)
                    && event.ppid == key.pid
                    && clock::start_ticks(event.start_ns) >= key.start_ticks;
                if replaced || (own && matches!(event.kind, Kind::Exit(_))) {
                    *ended = true;
                    notices.push(Notice::MatchEnded {
                        rule: self.id,
                        pid: key.pid,
                    });
                }
                own || its_fork
            }
        }
    }

    fn handle(
        &mut self,
        event: &Event,
        tree: Option<(&Model, &Applied)>,
        notices: &mut Vec<Notice>,
    ) {
        if !self.matches(event, tree, notices) || !self.spec.kinds.contains(event.kind_name()) {
            return;
        }
        let Some(fields) = self.spec.layout.fields(event) else {
            return;
        };
        self.matched += 1;
        let info = siginfo(self.spec.signal, fields);
        for target in self.targets.iter_mut().filter(|t| !t.is_gone()) {
            if target.send(&info) == Delivery::Gone {
                notices.push(Notice::TargetGone {
                    rule: self.id,
                    pid: target.pid(),
                    comm: target.comm(),
                });
            }
        }
    }
}

/// Says so if the subtree a rule matches has just lost its last live member.
fn subtree_ended(rule: RuleId, pin: &Pin, notices: &mut Vec<Notice>) {
    if pin.is_empty() {
        notices.push(Notice::SubtreeEnded {
            rule,
            root: pin.root().pid,
        });
    }
}

/// The picked process, if the model has it alive still.
fn live_in(model: &Model, picked: Picked) -> Result<ProcessKey> {
    match model.current(picked.key.pid) {
        Some(key) if key == picked.key => Ok(key),
        now => Err(picked.gone(now.and_then(|key| model.get(key)).map(|p| (p.key, p.comm)))),
    }
}

/// Every relay rule, in the order they were made.
#[derive(Debug, Default)]
pub struct Relays {
    rules: Vec<Rule>,
    next_id: u32,
    lost: u64,
}

impl Relays {
    /// Opens the spec's targets (as pidfds) and adds the rule, its pids resolved now: the
    /// live processes that have them. Fails, adding nothing, if a target or the process to
    /// match does not exist or cannot be a target. A rule that matches a subtree
    /// ([`Match::needs_tree`]) needs the `model` the caller keeps current, and the same
    /// model at every [`Relays::handle`]. Warnings go to `notices`. Must run inside a tokio
    /// runtime.
    pub fn add(
        &mut self,
        spec: RuleSpec,
        model: Option<&Model>,
        notices: &mut Vec<Notice>,
    ) -> Result<RuleId> {
        self.add_picked(spec, &Picks::default(), model, notices)
    }

    /// [`Relays::add`], with the processes `picks` holds as they were picked: one that has
    /// exited since, or whose pid now names another process, is refused.
    pub fn add_picked(
        &mut self,
        spec: RuleSpec,
        picks: &Picks,
        model: Option<&Model>,
        notices: &mut Vec<Notice>,
    ) -> Result<RuleId> {
        self.next_id += 1;
        let id = RuleId(self.next_id);
        self.rules
            .push(Rule::open(id, spec, picks, model, notices)?);
        Ok(id)
    }

    /// Removes a rule; its pidfds are closed.
    pub fn remove(&mut self, id: RuleId) -> Option<Rule> {
        let index = self.rules.iter().position(|r| r.id == id)?;
        Some(self.rules.remove(index))
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Events the source lost while rules existed.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Whether any rule can still send a signal.
    pub fn is_live(&self) -> bool {
        self.rules.iter().any(Rule::is_live)
    }

    /// Relays one event to the targets of every rule it matches. Never blocks: a signal
    /// that cannot be queued is counted as undelivered. `tree`: the model, after it applied
    /// the event, and what that changed; rules that match a subtree match nothing without.
    pub fn handle(
        &mut self,
        event: &Event,
        tree: Option<(&Model, &Applied)>,
        notices: &mut Vec<Notice>,
    ) {
        if let Kind::Lost { count } = event.kind {
            if !self.rules.is_empty() {
                self.lost += count;
                notices.push(Notice::EventsLost { count });
            }
            return;
        }
        for rule in &mut self.rules {
            rule.handle(event, tree, notices);
        }
    }

    /// Updates the subtrees rules match from a change without its event: what
    /// [`Model::reconcile`] returned after lost events.
    pub fn follow(&mut self, model: &Model, applied: &Applied, notices: &mut Vec<Notice>) {
        for rule in &mut self.rules {
            rule.follow(model, applied, notices);
        }
    }

    /// Resolves when a target has exited; then call [`Relays::drop_exited`]. Pending
    /// forever while no target is left.
    pub async fn target_exited(&self) {
        poll_fn(|cx| {
            let targets = self.rules.iter().flat_map(|r| &r.targets);
            for target in targets {
                if target.poll_exit(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        })
        .await
    }

    /// Drops every target that has exited, with a notice for each.
    pub fn drop_exited(&mut self, notices: &mut Vec<Notice>) {
        for rule in &mut self.rules {
            for target in &mut rule.targets {
                if target.drop_if_exited() {
                    notices.push(Notice::TargetGone {
                        rule: rule.id,
                        pid: target.pid(),
                        comm: target.comm(),
                    });
                }
            }
        }
    }
}
