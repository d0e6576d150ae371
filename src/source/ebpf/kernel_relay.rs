//! The in-kernel relay: the probe's relay programs send each relayed signal from the
//! event's own tracepoint (`bpf_send_signal_task`, Linux 6.13), with no trip through the
//! ring buffer and a wakeup. User space writes the rules into the probe's maps and reads
//! back what became of the signals.
//!
//! aya links no kfunc calls: the probe calls each kfunc as if it were a helper with a
//! placeholder number ([`kfunc`]), and [`link_kfuncs`] rewrites those calls into kfunc
//! calls of the running kernel before the object is loaded.

use std::collections::HashMap;

use anyhow::{Result, anyhow, bail};
use aya::{
    Ebpf,
    maps::{Array, MapData, PerCpuArray},
};
use forkwatch_abi::{
    names::{map, program},
    relay::{RELAY_ENTRIES, RelayCounts, RelayEntry, kfunc},
};

use super::{Btf, attach_btf_tracepoint, take_map};

/// `BPF_JMP | BPF_CALL`, the opcode of a call instruction.
const CALL: u8 = 0x85;
/// `BPF_PSEUDO_KFUNC_CALL` in the source-register field (the high nibble of byte 1).
const KFUNC_CALL_REGS: u8 = 0x20;

/// The probe object, 8-byte aligned as the ELF parser wants it, with its kfunc calls
/// linked to this kernel; or why they cannot be, with the calls left as they were (the
/// relay programs then fail to load, and nothing else uses them).
pub(super) struct Linked {
    words: Vec<u64>,
    len: usize,
    pub kfuncs: Result<(), String>,
}

impl Linked {
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `words` holds at least `len` initialized bytes.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast(), self.len) }
    }
}

/// Rewrites each placeholder call in `object` into a call of the kfunc it stands for, if
/// this kernel has them all.
pub(super) fn link_kfuncs(object: &[u8], btf: &Btf) -> Linked {
    let mut words = vec![0u64; object.len().div_ceil(8)];
    // SAFETY: `words` has room for `object.len()` bytes; u64 has no invalid bit patterns.
    let bytes: &mut [u8] =
        unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), object.len()) };
    bytes.copy_from_slice(object);
    let ids: Result<HashMap<i32, u32>> = kfunc::ALL
        .iter()
        .map(|&(placeholder, name)| Ok((placeholder, btf.function_id(name)?)))
        .collect();
    let kfuncs = match ids {
        Ok(ids) => {
            // Instructions are 8 bytes, 8-aligned in the file, as the text sections are.
            for insn in bytes.chunks_exact_mut(8) {
                let imm = i32::from_le_bytes(insn[4..8].try_into().unwrap());
                if let (CALL, 0, Some(id)) = (insn[0], insn[1], ids.get(&imm)) {
                    insn[1] = KFUNC_CALL_REGS;
                    insn[4..8].copy_from_slice(&id.to_le_bytes());
                }
            }
            Ok(())
        }
        Err(e) => Err(format!("{e:#}")),
    };
    Linked {
        words,
        len: object.len(),
        kfuncs,
    }
}

/// The relay programs, attached, and the maps they read the rules from.
pub struct KernelRelay {
    entries: Array<MapData, RelayEntry>,
    used: Array<MapData, u32>,
    counts: PerCpuArray<MapData, RelayCounts>,
    /// Which entries user space has given out.
    taken: [bool; RELAY_ENTRIES as usize],
}

impl KernelRelay {
    /// Loads and attaches the relay programs: the reason if the kernel refuses them.
    pub(super) fn open(
        ebpf: &mut Ebpf,
        btf: &aya::Btf,
        kfuncs: Result<(), String>,
    ) -> Result<Self> {
        kfuncs.map_err(|e| anyhow!("{e}"))?;
        for (name, tracepoint) in [
            (program::RELAY_FORK, "sched_process_fork"),
            (program::RELAY_EXEC, "sched_process_exec"),
            (program::RELAY_EXIT, "sched_process_exit"),
            (program::RELAY_SIGNAL, "signal_generate"),
        ] {
            attach_btf_tracepoint(ebpf, name, tracepoint, btf)?;
        }
        Ok(Self {
            entries: Array::try_from(take_map(ebpf, map::RELAYS)?)?,
            used: Array::try_from(take_map(ebpf, map::RELAY_USED)?)?,
            counts: PerCpuArray::try_from(take_map(ebpf, map::RELAY_COUNTS)?)?,
            taken: [false; RELAY_ENTRIES as usize],
        })
    }

    /// Writes `entry` into a free slot, its counts zeroed: the slot's number.
    pub fn add(&mut self, entry: &RelayEntry) -> Result<u32> {
        let Some(at) = self.taken.iter().position(|&t| !t) else {
            bail!("the in-kernel relay holds at most {RELAY_ENTRIES} targets");
        };
        let at = at as u32;
        let zero = vec![RelayCounts::default(); aya::util::nr_cpus().map_err(|(_, e)| e)?];
        self.counts
            .set(at, aya::maps::PerCpuValues::try_from(zero)?, 0)?;
        self.entries.set(at, entry, 0)?;
        self.taken[at as usize] = true;
        self.set_used()?;
        Ok(at)
    }

    /// Empties slot `at`.
    pub fn remove(&mut self, at: u32) -> Result<()> {
        self.entries.set(at, RelayEntry::default(), 0)?;
        self.taken[at as usize] = false;
        self.set_used()
    }

    fn set_used(&mut self) -> Result<()> {
        let used = self
            .taken
            .iter()
            .rposition(|&t| t)
            .map_or(0, |last| last + 1);
        self.used.set(0, used as u32, 0)?;
        Ok(())
    }

    /// What became of slot `at`'s signals so far, over every CPU. Summed wrapping: a CPU
    /// may have moved to undelivered a signal another CPU counted as sent.
    pub fn counts(&self, at: u32) -> Result<RelayCounts> {
        let per_cpu = self.counts.get(&at, 0)?;
        Ok(per_cpu
            .iter()
            .fold(RelayCounts::default(), |sum, c| RelayCounts {
                sent: sum.sent.wrapping_add(c.sent),
                undelivered: sum.undelivered.wrapping_add(c.undelivered),
                target_gone: sum.target_gone.wrapping_add(c.target_gone),
            }))
    }

    /// Whether the probe emptied slot `at` because its target exited.
    pub fn emptied(&self, at: u32) -> bool {
        self.entries
            .get(&at, 0)
            .is_ok_and(|e| e.matching == forkwatch_abi::relay::matching::NONE)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Probe, ProbeOptions};

    #[tokio::test]
    async fn the_relay_programs_load() {
        let mut probe = Probe::load(&ProbeOptions {
            kernel_relay: true,
            ..ProbeOptions::default()
        })
        .unwrap();
        let relay = probe.take_kernel_relay().unwrap();
        assert!(relay.is_ok(), "{:?}", relay.err());
    }
}
