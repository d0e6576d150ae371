//! Loads the eBPF probe and turns its ring buffer into [`Event`]s.
//!
//! Here: loading, attaching and reading. The kernel's member offsets come from its BTF
//! (`btf`), records are decoded in `record`, and whether this process may load the probe
//! at all is checked in `privileges`. The probe itself is the `ebpf` crate; the layout of
//! its records and the names of its maps, globals and programs are in `forkwatch_abi`.

mod btf;
mod follow;
mod kernel_relay;
mod offsets;
mod privileges;
mod programs;
mod record;
mod task_iter;

use std::{
    os::fd::{AsFd, AsRawFd},
    path::Path,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow, bail};
use aya::{
    Ebpf, EbpfLoader,
    maps::{MapData, PerCpuArray, RingBuf},
    programs::{BtfTracePoint, TracePoint},
};
use forkwatch_abi::{
    SampleOffsets,
    names::{global, map, program},
};
use tokio::io::{Interest, unix::AsyncFd};

pub use btf::Btf;
pub use follow::Follow;
pub use kernel_relay::KernelRelay;
pub use privileges::{has_bpf_privileges, missing_privileges_message};
pub use task_iter::TaskIterator;

use offsets::{kernel_offsets, sample_offsets};
use programs::{SignalsHeld, program_mut, refused, retry_interrupted, take_map};
use record::decode;

use super::{FINISH_MARGIN, cgroups::CgroupPaths, ids::CountsLoss};
use crate::{clock, event::Event};

static PROBE: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/forkwatch"));

pub(super) const TRACEFS: &str = "/sys/kernel/tracing";

/// The set*id syscalls whose success changes a process's real or effective ids. The fs*id
/// variants are left out: they return the old id, not a status, and change neither.
pub(super) const UID_SYSCALLS: [&str; 3] = ["setuid", "setreuid", "setresuid"];
pub(super) const GID_SYSCALLS: [&str; 3] = ["setgid", "setregid", "setresgid"];

/// How often the loss counters are read while events flow.
const LOSS_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The most records and record bytes one batch takes from the ring buffer: enough that a
/// batch costs little per event, few enough that a consumer gets control back within
/// milliseconds whatever the event rate.
pub const BATCH_RECORDS: usize = 4096;
pub const BATCH_BYTES: usize = 1 << 20;

/// Why a drain stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drained {
    /// The ring buffer was empty.
    Empty,
    /// A bound was reached: more may be waiting.
    Bounded,
}

#[derive(Clone, Debug)]
pub struct ProbeOptions {
    /// Ring buffer size in bytes: a power of two, at least one page.
    pub ring_bytes: u32,
    /// The probe wakes this reader at most once per this interval; records written in
    /// between are read by polling again two intervals after each wakeup. Zero wakes it
    /// for every record: lowest latency, highest cost under load.
    pub wakeup_gap: Duration,
    /// Load the task iterator too, to sample processes with.
    pub samples: bool,
    /// Load the in-kernel relay too, for relay rules.
    pub kernel_relay: bool,
}

impl ProbeOptions {
    /// Refuses a ring buffer size the kernel would refuse.
    pub fn check(&self) -> Result<()> {
        let ring_bytes = self.ring_bytes;
        if ring_bytes < 4096 || !ring_bytes.is_power_of_two() {
            bail!(
                "--buffer-mib: the eBPF ring buffer must be a power of two of at least \
                 4096 bytes, not {ring_bytes}"
            );
        }
        Ok(())
    }
}

impl Default for ProbeOptions {
    fn default() -> Self {
        Self {
            ring_bytes: forkwatch_abi::DEFAULT_RING_BYTES,
            // Events reach the screen or a pipe at most 10 ms late, and the reader spends a
            // third of the CPU on a fork storm that it does with 0.5 ms (0.014 s against
            // 0.039 s per 10,000 events written as JSON, benches/probe_storm.rs); the
            // default ring buffer holds about 1,900 full-size exec records, far more than
            // 10 ms bring.
            wakeup_gap: Duration::from_millis(5),
            samples: false,
            kernel_relay: false,
        }
    }
}

/// The loaded, attached probe. Dropping it detaches everything.
pub struct Probe {
    ebpf: Ebpf,
    ring: AsyncFd<RingBuf<MapData>>,
    lost: PerCpuArray<MapData, u64>,
    /// Loss already reported: ring-buffer drops plus the kernel's recursion misses.
    lost_reported: u64,
    last_loss_check: Instant,
    /// How long after a batch to look again for records that did not wake us.
    repoll_after: Duration,
    /// When to look again; set after a batch that found records.
    repoll_at: Option<tokio::time::Instant>,
    /// The last read stopped at a bound: records are waiting, and no wakeup will say so.
    backlog: bool,
    /// The paths of the cgroup ids the records carry.
    cgroups: CgroupPaths,
    /// With [`ProbeOptions::samples`]: the task iterator, or why it cannot run.
    task_iterator: Option<Result<TaskIterator, String>>,
    /// With [`ProbeOptions::kernel_relay`]: the in-kernel relay, or why it cannot run.
    kernel_relay: Option<Result<KernelRelay, String>>,
    follow: Follow,
}

impl Probe {
    /// Checks privileges and kernel support, loads and attaches every program. Each failure
    /// is one line that says what is missing. Must run inside a tokio runtime.
    pub fn load(options: &ProbeOptions) -> Result<Self> {
        let Loaded {
            mut ebpf,
            btf,
            samples,
            kfuncs,
        } = load_object(options)?;
        // The verifier gives up with EAGAIN when a signal is pending for the loading
        // thread; with signals held, only what cannot be held interrupts it.
        let _held = SignalsHeld::new();
        for (program, tracepoint) in [
            (program::FORK, "sched_process_fork"),
            (program::EXEC, "sched_process_exec"),
            (program::EXIT, "sched_process_exit"),
        ] {
            attach_btf_tracepoint(&mut ebpf, program, tracepoint, &btf)?;
        }
        for (program, syscalls) in [
            (program::UID_CHANGE, UID_SYSCALLS),
            (program::GID_CHANGE, GID_SYSCALLS),
        ] {
            let prog: &mut TracePoint = program_mut(&mut ebpf, program)?;
            retry_interrupted(|| prog.load())
                .map_err(|e| refused(program, "syscalls/sys_exit_set*id", e))?;
            for syscall in syscalls {
                let tracepoint = format!("sys_exit_{syscall}");
                prog.attach("syscalls", &tracepoint)
                    .map_err(|e| refused(program, &format!("syscalls/{tracepoint}"), e))?;
            }
        }

        let task_iterator = options
            .samples
            .then(|| TaskIterator::open(&mut ebpf, &btf, samples).map_err(|e| format!("{e:#}")));

        // Attached after the event programs, so that on each tracepoint those run first.
        let kernel_relay = options
            .kernel_relay
            .then(|| KernelRelay::open(&mut ebpf, &btf, kfuncs).map_err(|e| format!("{e:#}")));

        let ring = RingBuf::try_from(take_map(&mut ebpf, map::EVENTS)?)?;
        // SAFETY: the ring buffer owns its fd, which stays open as long as the AsyncFd.
        let ring = unsafe { AsyncFd::register_with_interest(ring, Interest::READABLE) }
            .map_err(|e| anyhow!("cannot watch the ring buffer: {}", e.into_parts().1))?;
        let lost = PerCpuArray::try_from(take_map(&mut ebpf, map::LOST)?)?;
        let follow = Follow::open(&mut ebpf)?;
        let mut probe = Self {
            ebpf,
            ring,
            lost,
            lost_reported: 0,
            last_loss_check: Instant::now(),
            repoll_after: options.wakeup_gap * 2,
            repoll_at: None,
            backlog: false,
            cgroups: CgroupPaths::new(),
            task_iterator,
            kernel_relay,
            follow,
        };
        // Counts from before the programs were attached belong to no one.
        probe.lost_reported = probe.lost_total();
        Ok(probe)
    }

    /// The task iterator loaded with [`ProbeOptions::samples`], or why it cannot run; taken
    /// once.
    pub fn take_task_iterator(&mut self) -> Option<Result<TaskIterator, String>> {
        self.task_iterator.take()
    }

    /// The in-kernel relay loaded with [`ProbeOptions::kernel_relay`], or why it cannot
    /// run; taken once.
    pub fn take_kernel_relay(&mut self) -> Option<Result<KernelRelay, String>> {
        self.kernel_relay.take()
    }

    /// The subtrees the probe follows in the kernel.
    pub fn follow(&mut self) -> &mut Follow {
        &mut self.follow
    }

    /// Waits until the probe has events, then appends a batch of them to `out` (at most
    /// [`BATCH_RECORDS`] records and [`BATCH_BYTES`] bytes), followed by a loss report if
    /// anything was lost since the last one. When more are left, the next call yields to
    /// the runtime once instead of waiting, so a ring buffer that refills as fast as it is
    /// read still lets the caller's other work (keys, signals, writing) run in between.
    pub async fn next_batch(&mut self, out: &mut Vec<Event>) -> Result<()> {
        let before = out.len();
        let woken = if self.backlog {
            tokio::task::yield_now().await;
            true
        } else {
            match self.repoll_at {
                Some(at) => tokio::select! {
                    ready = self.ring.readable_mut() => {
                        ready?.clear_ready();
                        true
                    }
                    () = tokio::time::sleep_until(at) => false,
                },
                None => {
                    self.ring.readable_mut().await?.clear_ready();
                    true
                }
            }
        };
        let drained = self.drain_until(out, u64::MAX, BATCH_RECORDS, BATCH_BYTES);
        self.backlog = drained == Drained::Bounded;
        let found = out.len() > before;
        // Records written within the wakeup gap after a wakeup do not wake us: look again
        // after every wakeup (even one whose record an earlier poll already took) and after
        // every poll that found something, until a poll finds nothing.
        self.repoll_at = ((woken || found) && !self.repoll_after.is_zero())
            .then(|| tokio::time::Instant::now() + self.repoll_after);
        // The last look after a burst: what the burst lost is told now, not whenever the
        // next record comes.
        if !woken && !found {
            self.report_loss(out);
        }
        Ok(())
    }

    /// Appends the events the ring buffer holds now, without waiting, until it is empty, a
    /// record written after `until_ns` is met, or `max_records` records or `max_bytes`
    /// bytes were read; then reports loss if the check is due.
    fn drain_until(
        &mut self,
        out: &mut Vec<Event>,
        until_ns: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Drained {
        let ring = self.ring.get_mut();
        let (mut records, mut bytes) = (0, 0);
        let drained = loop {
            if records >= max_records || bytes >= max_bytes {
                break Drained::Bounded;
            }
            let Some(item) = ring.next() else {
                break Drained::Empty;
            };
            records += 1;
            bytes += item.len();
            match decode(&item) {
                Some(mut event) => {
                    event.cgroup = event
                        .cgroup_id
                        .and_then(|id| self.cgroups.path(id, event.pid, event.ts_ns));
                    let later = event.ts_ns > until_ns;
                    out.push(event);
                    if later {
                        break Drained::Bounded;
                    }
                }
                None => tracing::warn!(len = item.len(), "undecodable probe record"),
            }
        };
        if self.last_loss_check.elapsed() >= LOSS_CHECK_INTERVAL {
            self.report_loss(out);
        }
        drained
    }

    /// Drains what the ring buffer held when called and reports all loss: for the last
    /// batch before stopping. It stops at the first record stamped [`FINISH_MARGIN`] after
    /// the call, so a storm that refills the buffer as fast as it is read cannot keep it
    /// going: it reads at most the buffer and what the margin brings.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let until = clock::boottime_ns().saturating_add(FINISH_MARGIN.as_nanos() as u64);
        self.finish_until(out, until);
    }

    /// [`Probe::finish`] with its bound given: stops at the first record stamped after
    /// `until_ns` (boot-time clock).
    pub fn finish_until(&mut self, out: &mut Vec<Event>, until_ns: u64) {
        let drained = self.drain_until(out, until_ns, usize::MAX, usize::MAX);
        self.backlog = drained == Drained::Bounded;
        self.report_loss(out);
    }

    fn report_loss(&mut self, out: &mut Vec<Event>) {
        out.extend(self.lost_now());
    }

    /// Ring-buffer drops counted by the probe, plus the runs the kernel skipped because a
    /// program was already running on that CPU (recursion misses).
    fn lost_total(&self) -> u64 {
        let dropped: u64 = self
            .lost
            .get(&0, 0)
            .map(|per_cpu| per_cpu.iter().sum())
            .unwrap_or(0);
        let skipped: u64 = self
            .ebpf
            .programs()
            .filter_map(|(_, prog)| prog.fd().ok())
            .map(|fd| recursion_misses(fd.as_fd().as_raw_fd()))
            .sum();
        dropped + skipped
    }
}

impl CountsLoss for Probe {
    fn lost_now(&mut self) -> Option<Event> {
        self.last_loss_check = Instant::now();
        let total = self.lost_total();
        let count = total.checked_sub(self.lost_reported).filter(|&n| n > 0)?;
        self.lost_reported = total;
        Some(Event::lost(clock::boottime_ns(), count))
    }
}

/// The probe's object with its maps created, and what the optional programs need.
struct Loaded {
    ebpf: Ebpf,
    btf: aya::Btf,
    /// Whether the kernel has what the task iterator reads.
    samples: Result<()>,
    /// Whether the in-kernel relay's kfunc calls could be linked.
    kfuncs: Result<(), String>,
}

/// Checks privileges and kernel support and creates the probe's maps, with the kernel's
/// member offsets filled in; no program is loaded yet. Also says whether the kernel has what
/// the task iterator reads, and the kfuncs the in-kernel relay calls.
fn load_object(options: &ProbeOptions) -> Result<Loaded> {
    if !has_bpf_privileges() {
        bail!("{}", missing_privileges_message());
    }
    options.check()?;
    let ring_bytes = options.ring_bytes;
    let kernel_btf = Btf::from_sys_fs()?;
    let params = kernel_btf.tracepoint_params("sched_process_exit")?;
    if !matches!(params.get(1).map(String::as_str), Some("bool" | "_Bool")) {
        bail!(
            "this kernel's sched_process_exit tracepoint has no group_dead argument \
             (found {params:?}); forkwatch's probe needs Linux 6.16 or later"
        );
    }
    mount_tracefs()?;
    let offsets = kernel_offsets(&kernel_btf)?;
    let wakeup_gap_ns = u64::try_from(options.wakeup_gap.as_nanos()).unwrap_or(u64::MAX);
    tracing::info!(?offsets, "kernel offsets from BTF");
    let samples = sample_offsets(&kernel_btf);
    tracing::info!(?samples, "task iterator offsets from BTF");

    let linked = kernel_relay::link_kfuncs(PROBE, &kernel_btf);
    let btf = aya::Btf::from_sys_fs().context("cannot read the kernel's BTF")?;
    let ebpf = EbpfLoader::new()
        .btf(Some(&btf))
        .override_global(global::OFFSETS, &offsets, true)
        .override_global(global::WAKEUP_GAP_NS, &wakeup_gap_ns, true)
        .override_global(
            global::SAMPLE_OFFSETS,
            samples.as_ref().unwrap_or(&SampleOffsets::ZERO),
            true,
        )
        .map_max_entries(map::EVENTS, ring_bytes)
        .load(linked.bytes())
        .map_err(|e| anyhow!("the kernel refused the probe's maps: {e}"))?;
    Ok(Loaded {
        ebpf,
        btf,
        samples: samples.map(drop),
        kfuncs: linked.kfuncs,
    })
}

fn attach_btf_tracepoint(
    ebpf: &mut Ebpf,
    program: &str,
    tracepoint: &str,
    btf: &aya::Btf,
) -> Result<()> {
    let prog: &mut BtfTracePoint = program_mut(ebpf, program)?;
    let attach_point = format!("tp_btf/{tracepoint}");
    retry_interrupted(|| prog.load(tracepoint, btf))
        .map_err(|e| refused(program, &attach_point, e))?;
    prog.attach()
        .map_err(|e| refused(program, &attach_point, e))?;
    Ok(())
}

/// Mounts tracefs if it is not mounted: the syscall tracepoints are found through it.
fn mount_tracefs() -> Result<()> {
    if Path::new(TRACEFS).join("events").is_dir() {
        return Ok(());
    }
    let target = std::ffi::CString::new(TRACEFS).expect("no NUL in the path");
    // SAFETY: all arguments are NUL-terminated strings that outlive the call.
    let ret = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if ret != 0 {
        bail!(
            "tracefs is not mounted at {TRACEFS} and mounting it failed: {} (mount it with `mount -t tracefs nodev {TRACEFS}`)",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// `recursion_misses` of a loaded program (BPF_OBJ_GET_INFO_BY_FD), 0 if unavailable.
fn recursion_misses(prog_fd: i32) -> u64 {
    use aya_obj::generated::{bpf_attr, bpf_cmd, bpf_prog_info};
    // SAFETY: both are plain C structs for which all-zero is valid.
    let mut info: bpf_prog_info = unsafe { std::mem::zeroed() };
    let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
    attr.info.bpf_fd = prog_fd as u32;
    attr.info.info_len = size_of::<bpf_prog_info>() as u32;
    attr.info.info = std::ptr::from_mut(&mut info) as u64;
    // SAFETY: `attr` describes `info`, which outlives the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            bpf_cmd::BPF_OBJ_GET_INFO_BY_FD as libc::c_int,
            &mut attr,
            size_of::<bpf_attr>(),
        )
    };
    if ret == 0 { info.recursion_misses } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe spells its names out (its macros take only literals): they must be the
    /// ones the loader looks for.
    #[test]
    fn the_probe_has_every_name_the_loader_looks_for() {
        let object = aya_obj::Object::parse(PROBE).unwrap();
        for name in [
            map::EVENTS,
            map::LOST,
            map::RELAYS,
            map::RELAY_USED,
            map::RELAY_COUNTS,
            map::FOLLOWED,
            map::FOLLOWED_ROOTS,
            map::FOLLOW_SETTINGS,
        ] {
            assert!(object.maps.contains_key(name), "no map {name}");
        }
        let programs = [
            program::FORK,
            program::EXEC,
            program::EXIT,
            program::UID_CHANGE,
            program::GID_CHANGE,
            program::TASK_SAMPLES,
            program::RELAY_FORK,
            program::RELAY_EXEC,
            program::RELAY_EXIT,
            program::RELAY_SIGNAL,
        ];
        for name in programs {
            assert!(object.programs.contains_key(name), "no program {name}");
        }
        let btf = object.btf.as_ref().expect("the probe carries BTF");
        for name in [
            global::OFFSETS,
            global::WAKEUP_GAP_NS,
            global::SAMPLE_OFFSETS,
        ] {
            btf.id_by_type_name_kind(name, aya_obj::btf::BtfKind::Var)
                .unwrap_or_else(|e| panic!("no global {name}: {e}"));
        }
    }

    #[test]
    fn a_program_the_verifier_refuses_is_named_in_one_line() {
        let Loaded { mut ebpf, btf, .. } = load_object(&ProbeOptions::default()).unwrap();
        // The exec program reads a third tracepoint argument; sched_process_fork has two.
        let err = attach_btf_tracepoint(&mut ebpf, program::EXEC, "sched_process_fork", &btf)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("the kernel refused BPF program `exec` (tp_btf/sched_process_fork): "),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        // The verifier's own explanation follows the errno.
        let explanation = err.split("(os error ").nth(1).unwrap();
        let explanation = explanation.split_once("): ").map(|(_, e)| e).unwrap_or("");
        assert!(explanation.contains("argument"), "{err}");
    }
}
