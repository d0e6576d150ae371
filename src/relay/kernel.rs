//! Rules whose signals the probe sends ([`SendPath::Kernel`]): each target of such a rule
//! is one entry of the probe's relay map, written when the rule is made.

use std::time::{Duration, Instant};

use forkwatch_abi::relay::{RelayEntry, layout, matching};

use crate::{
    clock,
    event::{KindName, ProcessKey},
    source::{Filtering, ebpf::KernelRelay},
    tracker::rules::{Layout, Matched, RuleSpec},
};

/// How often the kernel's counts are read while events flow.
const COUNT_INTERVAL: Duration = Duration::from_millis(50);

/// The in-kernel relay, if the probe could load it.
#[derive(Default)]
pub(super) struct Kernel {
    relay: Option<KernelRelay>,
    /// Why there is none.
    missing: Option<String>,
    counted_at: Option<Instant>,
    /// Whether the probe follows the subtrees of the rules that match one; else why not.
    subtrees: Option<Result<(), String>>,
}

impl Kernel {
    pub fn new(relay: Result<KernelRelay, String>) -> Self {
        match relay {
            Ok(relay) => Self {
                relay: Some(relay),
                ..Self::default()
            },
            Err(why) => Self {
                missing: Some(why),
                ..Self::default()
            },
        }
    }

    /// The entry for one target of `spec`, if the probe can relay the rule; else why not.
    pub fn entry(
        &self,
        spec: &RuleSpec,
        matched: &Matched,
        target: ProcessKey,
    ) -> Result<RelayEntry, String> {
        if self.relay.is_none() {
            return Err(self
                .missing
                .clone()
                .unwrap_or_else(|| "the event source is not the eBPF probe".to_owned()));
        }
        if spec.place.is_some() {
            return Err("container and cgroup filters are applied in user space".to_owned());
        }
        let (matching, process) = match matched {
            Matched::Any => (matching::ANY, ProcessKey::new(0, 0)),
            Matched::Process(key) => (matching::PROCESS, *key),
            Matched::Subtree(pin) => match &self.subtrees {
                Some(Ok(())) => (matching::SUBTREE, pin.root()),
                Some(Err(why)) => return Err(format!("its subtree is {why}")),
                None => return Err("its subtree is not followed in the kernel".to_owned()),
            },
        };
        // uid and gid changes come from classic tracepoints, which the relay programs are
        // not on: the tracker asks for their signals as for a rule sent from user space.
        let kinds = (forkwatch_abi::kind::FORK..=forkwatch_abi::kind::THREAD_EXIT)
            .filter(|&kind| KindName::from_probe(kind).is_some_and(|k| spec.kinds.contains(k)))
            .fold(0, |bits, kind| bits | 1 << kind);
        Ok(RelayEntry {
            matching,
            kinds,
            signal: spec.signal.number() as u32,
            layout: match spec.layout {
                Layout::RelayFork => layout::RELAY_FORK,
                Layout::KMonitor => layout::KMONITOR,
            },
            match_pid: process.pid,
            target_pid: target.pid,
            match_start_ticks: process.start_ticks,
            target_start_ticks: target.start_ticks,
            tick_ns: clock::ticks_to_ns(1),
        })
    }

    /// Whether the probe follows the subtrees of the rules on one ([`Filtering::Kernel`]).
    pub fn follow_subtrees(&mut self, filtering: &Filtering) {
        self.subtrees = Some(match filtering {
            Filtering::Kernel => Ok(()),
            Filtering::UserSpace(why) => Err(format!("filtered in user space ({why})")),
        });
    }

    /// Writes the entries into the probe's map: their slots, or why not (none written).
    pub fn add(&mut self, entries: &[RelayEntry]) -> Result<Vec<u32>, String> {
        let relay = self.relay.as_mut().ok_or("the kernel cannot")?;
        let mut slots = Vec::new();
        for entry in entries {
            match relay.add(entry) {
                Ok(slot) => slots.push(slot),
                Err(e) => {
                    for &slot in &slots {
                        let _ = relay.remove(slot);
                    }
                    return Err(format!("{e:#}"));
                }
            }
        }
        Ok(slots)
    }

    pub fn remove(&mut self, slot: u32) {
        if let Some(relay) = &mut self.relay
            && let Err(e) = relay.remove(slot)
        {
            tracing::warn!(slot, "cannot empty an in-kernel relay entry: {e:#}");
        }
    }

    /// The kernel's counts of `slots` (sent, undelivered; `None` for one that could not be
    /// read), if they are due: every [`COUNT_INTERVAL`], or now with `now`.
    pub fn counts(&mut self, slots: &[u32], now: bool) -> Option<Vec<Option<(u64, u64)>>> {
        let relay = self.relay.as_ref()?;
        let due = self
            .counted_at
            .is_none_or(|at| at.elapsed() >= COUNT_INTERVAL);
        if !(now || due) || slots.is_empty() {
            return None;
        }
        self.counted_at = Some(Instant::now());
        Some(
            slots
                .iter()
                .map(|&slot| {
                    let counts = relay.counts(slot).ok()?;
                    Some((counts.sent, counts.undelivered))
                })
                .collect(),
        )
    }
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("loaded", &self.relay.is_some())
            .field("missing", &self.missing)
            .finish()
    }
}
