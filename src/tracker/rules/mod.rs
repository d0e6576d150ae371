//! Relay rules: which process events are forwarded to which processes as real-time
//! signals, in the siginfo layouts of relay-fork (2005) and kmonitor (2004), so programs
//! written for those interfaces can do their own process accounting from the signals alone.
//!
//! [`Relays`] is plain state in the [`Tracker`](super::Tracker), a [`Follower`] of the
//! model: for each event a rule matches it asks for a signal to each of its targets
//! ([`Effect::Signal`]). The driver (the `relay` module, above this one) opens the
//! targets (their pidfds, the /proc checks) before a rule is made, sends the signals, and
//! tells what came of each ([`Relays::delivered`]) and which target exited
//! ([`Relays::target_exited`]). Rules that match a subtree follow it with a [`Pin`].

mod layout;
mod signal;
mod spec;
mod target;

use std::fmt;

use anyhow::{Result, anyhow};

pub use layout::{Fields, Layout, siginfo};
pub use signal::RtSignal;
pub use spec::{Match, RuleFields, RuleSpec, SendPath};
pub use target::{Delivery, Opened, Picked, Target, TargetId};

use super::{
    Change, Effect, Follower, Outcome,
    model::Model,
    pins::{self, Pin},
};
use crate::event::ProcessKey;
use crate::source::Subtree;
use crate::{
    clock,
    event::{Comm, Event, Kind},
};

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

/// Whose events a new rule relays, resolved to processes when it is made.
#[derive(Debug)]
pub enum Matched {
    Any,
    /// This process (see [`Match::Pid`]), as /proc showed it.
    Process(ProcessKey),
    /// The members of a pin on the subtree ([`subtree`]); boxed, being many times the
    /// others' size.
    Subtree(Box<Pin>),
}

/// Who sends a rule's signals, as the driver could arrange it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Sender {
    /// forkwatch, from user space ([`SendPath::User`]).
    #[default]
    User,
    /// The probe ([`SendPath::Kernel`]): the tracker asks for no signal, the driver reads
    /// the kernel's counts; but for uid and gid changes, which the probe does not relay.
    Kernel,
    /// forkwatch, though the kernel was asked for, which cannot: why.
    UserInstead(String),
}

impl fmt::Display for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User => f.write_str("signals sent from user space"),
            Self::Kernel => f.write_str("signals sent in the kernel"),
            Self::UserInstead(why) => {
                write!(f, "signals sent from user space: not in the kernel, {why}")
            }
        }
    }
}

/// A rule ready to be added: what it was made from, whose events it relays, its targets
/// as the driver opened them, and who sends its signals.
#[derive(Debug)]
pub struct NewRule {
    pub spec: RuleSpec,
    pub matched: Matched,
    pub targets: Vec<Opened>,
    pub sender: Sender,
}

/// Whose events a rule relays, and whether it can still match.
#[derive(Debug)]
enum Matcher {
    Any,
    /// This process; `ended` once it is known to have exited, after which the pid may
    /// belong to another process.
    Pid {
        key: ProcessKey,
        ended: bool,
    },
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
    sender: Sender,
}

impl Rule {
    fn new(id: RuleId, rule: NewRule, notices: &mut Vec<Notice>) -> Self {
        let NewRule {
            spec,
            matched,
            targets,
            sender,
        } = rule;
        for target in targets.iter().filter(|t| !t.prepared) {
            notices.push(Notice::TargetUnprepared {
                rule: id,
                pid: target.pid,
                comm: target.comm,
                signal: spec.signal,
            });
        }
        let matcher = match matched {
            Matched::Any => Matcher::Any,
            Matched::Process(key) => Matcher::Pid { key, ended: false },
            Matched::Subtree(pin) => Matcher::Subtree(pin),
        };
        Self {
            id,
            spec,
            matcher,
            targets: targets.into_iter().map(Target::new).collect(),
            matched: 0,
            sender,
        }
    }

    /// Who sends its signals.
    pub fn sender(&self) -> &Sender {
        &self.sender
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

    /// The subtree it relays the events of, as a source is asked to follow it; `None` for
    /// a rule on a process or on every event.
    pub fn subtree(&self) -> Option<Subtree> {
        match &self.matcher {
            Matcher::Subtree(pin) => Some(pin.subtree()),
            Matcher::Any | Matcher::Pid { .. } => None,
        }
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

    /// Updates a subtree's members from a change a re-sync found; says when none is left.
    /// A process matched that a re-sync found gone has ended, its exit event lost.
    fn resynced(&mut self, change: &Change<'_>, out: &mut Outcome) {
        let applied = change.applied;
        match &mut self.matcher {
            Matcher::Subtree(pin) if !pin.is_empty() => {
                pin.follow(change, out);
                subtree_ended(self.id, pin, &mut out.notices);
            }
            Matcher::Pid { key, ended }
                if !*ended && applied.exited && applied.key == Some(*key) =>
            {
                *ended = true;
                out.notices.push(Notice::MatchEnded {
                    rule: self.id,
                    pid: key.pid,
                });
            }
            _ => {}
        }
    }

    fn matches(&mut self, event: &Event, change: &Change<'_>, out: &mut Outcome) -> bool {
        match &mut self.matcher {
            Matcher::Any => true,
            Matcher::Subtree(pin) if !pin.is_empty() => {
                let concerns = pin.follow(change, out);
                subtree_ended(self.id, pin, &mut out.notices);
                concerns
            }
            Matcher::Subtree(_) => false,
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
                if replaced || (own && matches!(event.kind, Kind::Exit(..))) {
                    *ended = true;
                    out.notices.push(Notice::MatchEnded {
                        rule: self.id,
                        pid: key.pid,
                    });
                }
                own || its_fork
            }
        }
    }

    /// Asks for a signal to each target still there if the event matches.
    fn relay(&mut self, event: &Event, change: &Change<'_>, out: &mut Outcome) -> bool {
        // Matched first: a subtree follows every event, in its place or not.
        if !self.matches(event, change, out)
            || !self.spec.kinds.contains(event.kind_name())
            || !self
                .spec
                .place
                .as_ref()
                .is_none_or(|place| place.passes(event))
        {
            return false;
        }
        let Some(fields) = self.spec.layout.fields(event) else {
            return false;
        };
        self.matched += 1;
        if self.sender == Sender::Kernel
            && !matches!(event.kind, Kind::Uid { .. } | Kind::Gid { .. })
        {
            return true;
        }
        let signal = self.spec.signal;
        for target in self.targets.iter().filter(|t| !t.is_gone()) {
            out.effects.push(Effect::Signal {
                target: target.id(),
                signal,
                fields,
            });
        }
        true
    }
}

/// A rule relays the events it matches; a change without its event (a re-sync's) only
/// updates what it matches.
impl Follower for Rule {
    fn follow(&mut self, change: &Change<'_>, out: &mut Outcome) -> bool {
        match change.event {
            Some(event) => self.relay(event, change, out),
            None => {
                self.resynced(change, out);
                false
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

/// What a rule on the subtree of `root` matches: a pin on it, as `model` holds it now. With
/// `picked`, the root is the process picked with that pid, refused if it has exited since
/// or its pid now names another process; else the live process with that pid.
pub fn subtree(model: &Model, root: u32, picked: Option<Picked>) -> Result<Matched> {
    let root = match picked {
        Some(picked) => live_in(model, picked)?,
        None => pins::live_root(model, root).map_err(|e| anyhow!("{e} to relay the subtree of"))?,
    };
    let mut pin = Pin::new(model, root)?;
    // Its events are relayed, not kept.
    pin.set_log_len(0);
    Ok(Matched::Subtree(Box::new(pin)))
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
    /// Adds a rule whose targets the driver opened; warnings (targets the signal would
    /// kill) go to `notices`.
    pub fn add(&mut self, rule: NewRule, notices: &mut Vec<Notice>) -> RuleId {
        self.next_id += 1;
        let id = RuleId(self.next_id);
        self.rules.push(Rule::new(id, rule, notices));
        id
    }

    /// Removes a rule; the driver closes the pidfds of its targets.
    pub fn remove(&mut self, id: RuleId) -> Option<Rule> {
        let index = self.rules.iter().position(|r| r.id == id)?;
        Some(self.rules.remove(index))
    }

    /// The subtrees of the rules when every rule relays a subtree's events: then a source
    /// may send only those subtrees' events. `None` if there is no rule, or one is not on a
    /// subtree.
    pub fn subtrees(&self) -> Option<Vec<Subtree>> {
        let subtrees: Option<Vec<Subtree>> = self.rules.iter().map(Rule::subtree).collect();
        subtrees.filter(|s| !s.is_empty())
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

    /// Counts what became of a signal the driver sent; says so if its target turned out
    /// to have exited, which drops it. A target dropped already is not counted again.
    pub fn delivered(&mut self, target: TargetId, delivery: Delivery) -> Option<Notice> {
        let (rule, target) = self.target_mut(target)?;
        target
            .delivered(delivery)
            .then(|| gone_notice(rule, target))
    }

    /// What the kernel says became of a target's signals so far (the driver read it).
    pub fn counted_in_kernel(&mut self, target: TargetId, sent: u64, undelivered: u64) {
        if let Some((_, target)) = self.target_mut(target) {
            target.counted(sent, undelivered);
        }
    }

    /// The driver saw a target exit (its pidfd): it is dropped, saying so.
    pub fn target_exited(&mut self, target: TargetId) -> Option<Notice> {
        let (rule, target) = self.target_mut(target)?;
        target.exited().then(|| gone_notice(rule, target))
    }

    fn target_mut(&mut self, id: TargetId) -> Option<(RuleId, &mut Target)> {
        self.rules.iter_mut().find_map(|rule| {
            let target = rule.targets.iter_mut().find(|t| t.id() == id)?;
            Some((rule.id, target))
        })
    }
}

fn gone_notice(rule: RuleId, target: &Target) -> Notice {
    Notice::TargetGone {
        rule,
        pid: target.pid(),
        comm: target.comm(),
    }
}

/// Every rule follows; true if any relayed the event. A loss report concerns no process:
/// it is counted and said once, as long as there is a rule.
impl Follower for Relays {
    fn follow(&mut self, change: &Change<'_>, out: &mut Outcome) -> bool {
        if let Some(Event {
            kind: Kind::Lost { count },
            ..
        }) = change.event
        {
            if !self.rules.is_empty() {
                self.lost += count;
                out.notices.push(Notice::EventsLost { count: *count });
            }
            return false;
        }
        let mut any = false;
        for rule in &mut self.rules {
            any |= rule.follow(change, out);
        }
        any
    }
}
