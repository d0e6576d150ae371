//! Follow-forks in the kernel: user space names the roots of the subtrees to follow and
//! their members now; the probe adds what they fork and drops what exits or is
//! re-parented out (ebpf/src/follow.rs), and with only-followed on sends nothing else.
//!
//! The race at the start: a member forks between the /proc read its members came from and
//! its entry in the map. Its child is then in neither, so after writing the members this
//! reads /proc again and adds every process whose parent is in the map, until a read adds
//! none: a child forked after its parent's entry was written is the probe's to add, and one
//! forked before is in the next read of /proc.

use anyhow::{Context, Result, anyhow, bail};
use aya::{
    Ebpf,
    maps::{Array, HashMap, MapData},
};
use forkwatch_abi::{FOLLOWED_ROOTS_CAP, FollowSettings, Followed, names::map};

use super::take_map;
use crate::{
    clock,
    event::ProcessKey,
    proc::{self, stat},
};

/// The most reads of /proc that catching up on a new subtree's forks takes: a subtree that
/// forks faster than /proc is read would keep it going.
const CATCH_UP_READS: usize = 16;

/// The probe's maps of followed processes and what it is asked to do with them.
pub struct Follow {
    followed: HashMap<MapData, u32, Followed>,
    roots: HashMap<MapData, u32, Followed>,
    settings: Array<MapData, FollowSettings>,
    current: FollowSettings,
    /// The root each bit stands for.
    bits: [Option<ProcessKey>; FOLLOWED_ROOTS_CAP as usize],
    /// Where to look for a free bit: after the last one given, so that a bit just freed
    /// (which the probe may still be copying to a fork) is the last to be given again.
    next_bit: usize,
}

impl Follow {
    pub(super) fn open(ebpf: &mut Ebpf) -> Result<Self> {
        let mut follow = Self {
            followed: HashMap::try_from(take_map(ebpf, map::FOLLOWED)?)?,
            roots: HashMap::try_from(take_map(ebpf, map::FOLLOWED_ROOTS)?)?,
            settings: Array::try_from(take_map(ebpf, map::FOLLOW_SETTINGS)?)?,
            current: FollowSettings {
                tick_ns: 1_000_000_000 / clock::ticks_per_second(),
                ..FollowSettings::default()
            },
            bits: [None; FOLLOWED_ROOTS_CAP as usize],
            next_bit: 0,
        };
        follow.write_settings()?;
        Ok(follow)
    }

    /// Follows `root`'s subtree, whose members are `members` now (the root need not be
    /// among them), and what they fork from now on. Already followed: adds the members.
    pub fn add_root(
        &mut self,
        root: ProcessKey,
        members: impl IntoIterator<Item = ProcessKey>,
    ) -> Result<()> {
        let bit = match self.bits.iter().position(|&r| r == Some(root)) {
            Some(bit) => bit,
            None => self.take_bit(root)?,
        };
        let mask = 1u64 << bit;
        let entry = Followed {
            start_ns: clock::ticks_to_ns(root.start_ticks),
            roots: mask,
        };
        self.roots
            .insert(root.pid, entry, 0)
            .context("cannot add a followed root to the probe")?;
        for key in std::iter::once(root).chain(members) {
            self.join(key, mask)?;
        }
        self.current.active_roots |= mask;
        self.write_settings()?;
        self.catch_up(mask)
    }

    /// Stops following `root`'s subtree; false if it was not followed.
    pub fn remove_root(&mut self, root: ProcessKey) -> Result<bool> {
        let Some(bit) = self.bits.iter().position(|&r| r == Some(root)) else {
            return Ok(false);
        };
        let mask = 1u64 << bit;
        // The probe ignores the bit from now on; then it is swept from the map.
        self.current.active_roots &= !mask;
        self.write_settings()?;
        self.bits[bit] = None;
        let _ = self.roots.remove(&root.pid);
        for (pid, entry) in self.entries()? {
            if entry.roots & mask == 0 {
                continue;
            }
            let roots = entry.roots & !mask;
            let done = if roots == 0 {
                self.followed.remove(&pid)
            } else {
                self.followed.insert(pid, Followed { roots, ..entry }, 0)
            };
            // Gone meanwhile: the probe removed it.
            drop(done);
        }
        Ok(true)
    }

    /// Only the events of followed processes (and loss reports) are sent: `true`; every
    /// event: `false`.
    pub fn set_only_followed(&mut self, on: bool) -> Result<()> {
        self.current.only_followed = u64::from(on);
        self.write_settings()
    }

    /// Every followed process the map holds now, with the bits of its subtrees (stale
    /// entries of reused pids included: the probe removes them when it meets them).
    pub fn followed(&self) -> Result<Vec<(ProcessKey, u64)>> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|(_, entry)| entry.roots & self.current.active_roots != 0)
            .map(|(pid, entry)| (ProcessKey::new(pid, entry.start_ns), entry.roots))
            .collect())
    }

    /// The roots of the subtrees followed.
    pub fn roots(&self) -> Vec<ProcessKey> {
        self.bits.iter().flatten().copied().collect()
    }

    /// The bit of `root`'s subtree in [`Follow::followed`]; `None` if it is not followed.
    pub fn bit_of(&self, root: ProcessKey) -> Option<u64> {
        let bit = self.bits.iter().position(|&r| r == Some(root))?;
        Some(1 << bit)
    }

    fn take_bit(&mut self, root: ProcessKey) -> Result<usize> {
        let cap = self.bits.len();
        let bit = (0..cap)
            .map(|i| (self.next_bit + i) % cap)
            .find(|&bit| self.bits[bit].is_none())
            .ok_or_else(|| anyhow!("the probe follows at most {cap} subtrees"))?;
        self.bits[bit] = Some(root);
        self.next_bit = (bit + 1) % cap;
        Ok(bit)
    }

    /// Adds `mask` to the subtrees `key` is in.
    fn join(&mut self, key: ProcessKey, mask: u64) -> Result<()> {
        let start_ns = clock::ticks_to_ns(key.start_ticks);
        let roots = match self.followed.get(&key.pid, 0) {
            Ok(entry) if ProcessKey::new(key.pid, entry.start_ns) == key => entry.roots | mask,
            _ => mask,
        };
        self.followed
            .insert(key.pid, Followed { start_ns, roots }, 0)
            .with_context(|| format!("cannot follow pid {} in the probe", key.pid))
    }

    /// Adds the processes forked before their parent was in the map (module documentation).
    fn catch_up(&mut self, mask: u64) -> Result<()> {
        let mut pids = Vec::new();
        for _ in 0..CATCH_UP_READS {
            proc::list_pids(&mut pids).context("cannot read /proc")?;
            let processes: Vec<(ProcessKey, u32)> = pids
                .iter()
                .filter_map(|&pid| stat::read(pid).map(|s| (pid, s)))
                .map(|(pid, s)| (ProcessKey::new(pid, s.start_ns()), s.ppid))
                .collect();
            let keys: std::collections::HashMap<u32, ProcessKey> =
                processes.iter().map(|&(key, _)| (key.pid, key)).collect();
            let mut outside: Vec<(ProcessKey, ProcessKey)> = processes
                .iter()
                .filter_map(|&(key, ppid)| Some((key, *keys.get(&ppid)?)))
                .filter(|&(key, _)| !self.in_subtree(key, mask))
                .collect();
            let mut added = false;
            // A child can come before its parent in pid order (pids wrap): go again until
            // a pass adds none.
            loop {
                let before = outside.len();
                let mut left = Vec::with_capacity(before);
                for (key, parent) in outside {
                    if self.in_subtree(parent, mask) {
                        self.join(key, mask)?;
                        added = true;
                    } else {
                        left.push((key, parent));
                    }
                }
                outside = left;
                if outside.len() == before {
                    break;
                }
            }
            if !added {
                return Ok(());
            }
        }
        bail!("the subtree forks faster than /proc can be read; it cannot be followed")
    }

    fn in_subtree(&self, key: ProcessKey, mask: u64) -> bool {
        self.followed.get(&key.pid, 0).is_ok_and(|entry| {
            entry.roots & mask != 0 && ProcessKey::new(key.pid, entry.start_ns) == key
        })
    }

    fn entries(&self) -> Result<Vec<(u32, Followed)>> {
        let mut entries = Vec::new();
        for entry in self.followed.iter() {
            match entry {
                Ok(entry) => entries.push(entry),
                // Removed by the probe while being read.
                Err(aya::maps::MapError::KeyNotFound) => {}
                Err(e) => return Err(e).context("cannot read the probe's followed processes"),
            }
        }
        Ok(entries)
    }

    fn write_settings(&mut self) -> Result<()> {
        self.settings
            .set(0, self.current, 0)
            .context("cannot set what the probe follows")
    }
}
