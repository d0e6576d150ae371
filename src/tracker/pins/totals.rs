//! What a pin's processes cost together, those already gone included (ELSA's
//! per-group-of-processes accounting): CPU time, the most memory any one of them had, how
//! many started and how they ended.

use std::collections::BTreeMap;

use serde::{Serialize, ser::SerializeMap};

use crate::{
    event::{ExitStatus, ProcessKey, bytes_short, cpu_seconds},
    tracker::model::{Model, Process},
};

/// How a member ended, as the totals count it (a core dump is no other way of ending).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ending {
    Code(i32),
    Signal(i32),
    /// The source could not know (netlink's late reads, the /proc poller).
    Unknown,
}

impl From<ExitStatus> for Ending {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Code(code) => Self::Code(code),
            ExitStatus::Signal { signal, .. } => Self::Signal(signal),
            ExitStatus::Unknown => Self::Unknown,
        }
    }
}

/// What the members that ended cost, kept as they end: the model forgets exited processes,
/// the totals must not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Ended {
    cpu_ns: u64,
    /// Members that ended with neither their exit's usage nor a sample known.
    cpu_unknown: u64,
    peak_rss_bytes: u64,
    /// Processes born into the pin since it was made.
    pub(super) started: u64,
    /// By how they ended; at most 256 codes, 64 signals and unknown.
    endings: BTreeMap<Ending, u64>,
}

impl Ended {
    /// Counts a member that ended, as the model holds it (the exit applied: its usage is
    /// there if the source gave it).
    pub(super) fn add(&mut self, process: Option<&Process>) {
        let Some(p) = process else {
            self.cpu_unknown += 1;
            *self.endings.entry(Ending::Unknown).or_default() += 1;
            return;
        };
        match p.resources.cpu_ns() {
            Some(ns) => self.cpu_ns = self.cpu_ns.saturating_add(ns),
            None => self.cpu_unknown += 1,
        }
        self.peak_rss_bytes = self.peak_rss_bytes.max(p.resources.peak_rss_bytes());
        let ending = p.exit.map_or(Ending::Unknown, |e| e.status.into());
        *self.endings.entry(ending).or_default() += 1;
    }
}

/// A pin's totals at one moment: its ended members as they ended, its live ones as their
/// latest samples tell.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinTotals {
    /// CPU time of every member, user and system, nanoseconds: all of it for those that
    /// ended with their usage known (the probe reads it at exit, so a process no sample
    /// ever saw counts), as of the latest sample for the others.
    pub cpu_ns: u64,
    /// Members whose CPU time nothing told: ended without usage and never sampled, or
    /// alive and not sampled yet. `cpu_ns` leaves them out.
    pub cpu_unknown: u64,
    /// The most resident memory any one member had, bytes.
    pub peak_rss_bytes: u64,
    /// Processes born into the pin since it was made.
    pub started: u64,
    /// Members alive now, and how many of them the CPU time counts.
    pub alive: usize,
    /// Members that ended, by how.
    pub endings: BTreeMap<Ending, u64>,
}

impl PinTotals {
    pub(super) fn new<'a>(
        ended: &Ended,
        model: &Model,
        alive: impl Iterator<Item = ProcessKey> + 'a,
    ) -> Self {
        let mut totals = Self {
            cpu_ns: ended.cpu_ns,
            cpu_unknown: ended.cpu_unknown,
            peak_rss_bytes: ended.peak_rss_bytes,
            started: ended.started,
            alive: 0,
            endings: ended.endings.clone(),
        };
        for key in alive {
            totals.alive += 1;
            let resources = model.get(key).map(|p| p.resources);
            match resources.and_then(|r| r.cpu_ns()) {
                Some(ns) => totals.cpu_ns = totals.cpu_ns.saturating_add(ns),
                None => totals.cpu_unknown += 1,
            }
            let peak = resources.map_or(0, |r| r.peak_rss_bytes());
            totals.peak_rss_bytes = totals.peak_rss_bytes.max(peak);
        }
        totals
    }

    /// Members that ended.
    pub fn ended(&self) -> u64 {
        self.endings.values().sum()
    }

    /// `12 exit 0, 2 exit 1, 1 SIGKILL`: how the members ended, most common first.
    pub fn endings_line(&self) -> String {
        let mut endings: Vec<(Ending, u64)> = self.endings.iter().map(|(&e, &n)| (e, n)).collect();
        endings.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let parts: Vec<String> = endings
            .into_iter()
            .map(|(ending, n)| format!("{n} {}", ending.name()))
            .collect();
        parts.join(", ")
    }
}

impl Ending {
    /// `exit 0`, `SIGKILL`, `unknown`: the key of the JSON totals' `exits` too.
    pub fn name(self) -> String {
        match self {
            Self::Code(code) => format!("exit {code}"),
            Self::Signal(signal) => crate::event::signal_name(signal),
            Self::Unknown => "unknown".to_owned(),
        }
    }
}

impl PinTotals {
    /// `3 started, 3 ended (2 exit 0, 1 SIGKILL), 1 alive; CPU 4.21s; peak memory 3.1M`,
    /// with how many processes the CPU time leaves out when some.
    pub fn line(&self) -> String {
        let mut line = format!("{} started, {} ended", self.started, self.ended());
        if self.ended() > 0 {
            line += &format!(" ({})", self.endings_line());
        }
        line += &format!(", {} alive; CPU {}", self.alive, cpu_seconds(self.cpu_ns));
        if self.cpu_unknown > 0 {
            line += &format!(
                " (not counting {} processes never sampled)",
                self.cpu_unknown
            );
        }
        line + &format!("; peak memory {}", bytes_short(self.peak_rss_bytes))
    }
}

/// The totals of the pin whose root is `pid`, as `watch --json`'s last line: an object of
/// kind `totals` (README "JSON fields").
pub struct TotalsJson<'a> {
    pub pid: u32,
    pub totals: &'a PinTotals,
}

impl Serialize for TotalsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let t = self.totals;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("kind", "totals")?;
        m.serialize_entry("pid", &self.pid)?;
        m.serialize_entry("started", &t.started)?;
        m.serialize_entry("ended", &t.ended())?;
        m.serialize_entry("alive", &t.alive)?;
        m.serialize_entry("cpu_ns", &t.cpu_ns)?;
        m.serialize_entry("cpu_unknown", &t.cpu_unknown)?;
        m.serialize_entry("peak_rss_bytes", &t.peak_rss_bytes)?;
        let exits: BTreeMap<String, u64> = t.endings.iter().map(|(e, &n)| (e.name(), n)).collect();
        m.serialize_entry("exits", &exits)?;
        m.end()
    }
}
