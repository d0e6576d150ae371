//! The processes a rule names, as the rule keeps them: a target's pid, name and what it was
//! sent, a picked process's identity. Opening them (pidfds, /proc) and sending are the
//! driver's (the `relay` module, above this one); a target is known here by the [`TargetId`] the driver gave
//! it when it opened its pidfd.

use anyhow::{Error, anyhow};

use crate::event::{Comm, ProcessKey};

/// A process as it was picked for a rule: its identity, and its name then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Picked {
    pub key: ProcessKey,
    pub comm: Comm,
}

impl Picked {
    /// Why the picked process cannot be had, given what has its pid `now`, in one line.
    pub fn gone(&self, now: Option<(ProcessKey, Comm)>) -> Error {
        let (pid, comm) = (self.key.pid, self.comm);
        match now {
            Some((key, other)) if key != self.key => {
                anyhow!("pid {pid} is now another process ({other}): the one picked exited")
            }
            _ => anyhow!("pid {pid} ({comm}) exited since it was picked"),
        }
    }
}

/// Names a target for as long as its rule exists: the driver's handle on its pidfd.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetId(pub u32);

/// A target as the driver opened it, for a new rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    pub id: TargetId,
    pub pid: u32,
    /// Its command name when it was opened.
    pub comm: Comm,
    /// It blocks, ignores, catches or waits for the rule's signal (unknown counts as
    /// prepared): otherwise the first relayed signal kills it.
    pub prepared: bool,
}

/// What became of one signal, as the driver tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Not queued (full signal queue, or no longer allowed): counted, never waited for.
    Undelivered,
    /// The process has exited (ESRCH): the target is gone.
    Gone,
}

/// One target of a rule, with what it was sent.
#[derive(Clone, Debug)]
pub struct Target {
    id: TargetId,
    pid: u32,
    comm: Comm,
    gone: bool,
    sent: u64,
    undelivered: u64,
    /// What the kernel counted for the signals the probe sent it.
    kernel_sent: u64,
    kernel_undelivered: u64,
}

impl Target {
    pub(super) fn new(opened: Opened) -> Self {
        Self {
            id: opened.id,
            pid: opened.pid,
            comm: opened.comm,
            gone: false,
            sent: 0,
            undelivered: 0,
            kernel_sent: 0,
            kernel_undelivered: 0,
        }
    }

    pub fn id(&self) -> TargetId {
        self.id
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its command name when the rule was made.
    pub fn comm(&self) -> Comm {
        self.comm
    }

    /// Signals the kernel queued for it.
    pub fn sent(&self) -> u64 {
        self.sent + self.kernel_sent
    }

    /// Signals it should have had but were not queued: its signal queue was full
    /// (RLIMIT_SIGPENDING), or it may no longer be signalled.
    pub fn undelivered(&self) -> u64 {
        self.undelivered + self.kernel_undelivered
    }

    /// It exited and was dropped from its rule.
    pub fn is_gone(&self) -> bool {
        self.gone
    }

    /// Counts what became of a signal; true if that says the target has just gone.
    pub(super) fn delivered(&mut self, delivery: Delivery) -> bool {
        if self.gone {
            return false;
        }
        match delivery {
            Delivery::Sent => self.sent += 1,
            Delivery::Undelivered => self.undelivered += 1,
            Delivery::Gone => self.gone = true,
        }
        self.gone
    }

    /// The counts the kernel keeps for a target it signals itself.
    pub(super) fn counted(&mut self, sent: u64, undelivered: u64) {
        self.kernel_sent = sent;
        self.kernel_undelivered = undelivered;
    }

    /// The driver saw it exit; true if it had not gone already.
    pub(super) fn exited(&mut self) -> bool {
        !std::mem::replace(&mut self.gone, true)
    }
}
