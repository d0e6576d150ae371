//! Samples of every process through the probe's task iterator: one record per task, added
//! up per process here. The iterator is attached once (a BPF link, kept open); each round
//! makes an instance of it and reads that to the end, which needs no privileges, so it
//! goes on working after the source gives its capabilities up.

use std::{
    collections::{HashMap, HashSet},
    fs::File,
    io::Read,
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd},
};

use anyhow::{Context, Result};
use aya::{Ebpf, programs::Iter};
use aya_obj::generated::{bpf_attach_type, bpf_attr, bpf_cmd};
use forkwatch_abi::{PF_KTHREAD, TaskSample, names::program};

use super::{program_mut, refused, retry_interrupted};
use crate::{
    event::{Comm, Event, Kind, Sample, State},
    proc::{self, sample::ProcessSample, stat::StatFile},
};

/// Bytes read from an iterator instance at a time.
const READ_CHUNK: usize = 64 << 10;

/// One process as the tasks of one round add up.
#[derive(Default)]
struct Group {
    leader: Option<TaskSample>,
    runtime_ns: u64,
}

/// The attached task iterator.
pub struct TaskIterator {
    link: OwnedFd,
    /// The processes /proc listed at the first round but the iterator did not visit
    /// (here: pid 1 and its threads), sampled through their stat files instead. Found at
    /// the first round, not when the iterator is opened: /proc is read only once the
    /// source has given up its privileges.
    unseen: Option<Vec<(u32, StatFile)>>,
    page_bytes: u64,
    /// Reused between rounds.
    buf: Vec<u8>,
    groups: HashMap<u32, Group>,
    order: Vec<u32>,
}

impl TaskIterator {
    /// Loads and attaches the iterator and reads it once, so that what would stop it stops
    /// it now: the error is the reason to sample through /proc instead.
    pub(super) fn open(ebpf: &mut Ebpf, btf: &aya::Btf, offsets: Result<()>) -> Result<Self> {
        offsets?;
        let attach_point = "iter/task";
        let prog: &mut Iter = program_mut(ebpf, program::TASK_SAMPLES)?;
        retry_interrupted(|| prog.load("task", btf))
            .map_err(|e| refused(program::TASK_SAMPLES, attach_point, e))?;
        let prog_fd = prog
            .fd()
            .map_err(|e| refused(program::TASK_SAMPLES, attach_point, e))?;
        let link = bpf(bpf_cmd::BPF_LINK_CREATE, |attr| {
            attr.link_create.__bindgen_anon_1.prog_fd = prog_fd.as_fd().as_raw_fd() as u32;
            attr.link_create.attach_type = bpf_attach_type::BPF_TRACE_ITER as u32;
        })
        .context("the kernel refused to attach the task iterator (BPF_LINK_CREATE)")?;
        let mut iterator = Self {
            link,
            unseen: None,
            page_bytes: crate::proc::stat::page_size(),
            buf: Vec::new(),
            groups: HashMap::new(),
            order: Vec::new(),
        };
        iterator.read_all()?;
        Ok(iterator)
    }

    /// The stat files of the processes /proc lists and `seen` (one round of the
    /// iterator's events) has not.
    fn find_unseen(seen: &[Event]) -> Result<Vec<(u32, StatFile)>> {
        let seen: HashSet<u32> = seen.iter().map(|e| e.pid).collect();
        let mut pids = Vec::new();
        proc::list_pids(&mut pids).context("cannot read /proc")?;
        let unseen: Vec<(u32, StatFile)> = pids
            .into_iter()
            .filter(|pid| !seen.contains(pid))
            .filter_map(|pid| Some((pid, StatFile::open(pid)?)))
            .collect();
        if !unseen.is_empty() {
            let pids: Vec<u32> = unseen.iter().map(|(pid, _)| *pid).collect();
            tracing::info!(
                ?pids,
                "the task iterator does not visit these: sampled through /proc"
            );
        }
        Ok(unseen)
    }

    /// Appends a sample event of every process, stamped `ts_ns`: those the iterator does
    /// not visit, then the others in pid order.
    pub fn round(&mut self, ts_ns: u64, out: &mut Vec<Event>) -> Result<()> {
        let from = out.len();
        if let Some(unseen) = &mut self.unseen {
            // A file that no longer reads belongs to a process that ended.
            unseen.retain(|(pid, file)| match file.read() {
                Some(stat) => {
                    out.push(ProcessSample { pid: *pid, stat }.event(ts_ns));
                    true
                }
                None => false,
            });
        }
        self.read_all()?;
        self.groups.clear();
        let records = self.buf.chunks_exact(size_of::<TaskSample>());
        for bytes in records {
            // SAFETY: TaskSample is plain integers, valid for any bytes; read unaligned.
            let task: TaskSample = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
            let group = self.groups.entry(task.tgid).or_default();
            group.runtime_ns = group.runtime_ns.saturating_add(task.runtime_ns);
            if task.tid == task.tgid {
                group.leader = Some(task);
            }
        }
        self.order.clear();
        self.order.extend(self.groups.keys());
        self.order.sort_unstable();
        for pid in &self.order {
            // A group whose leader was not met (it was reaped during the round) is left out.
            if let Some(event) = self.groups[pid].event(ts_ns, self.page_bytes) {
                out.push(event);
            }
        }
        if self.unseen.is_none() {
            let unseen = Self::find_unseen(&out[from..])?;
            out.extend(unseen.iter().filter_map(|(pid, file)| {
                Some(
                    ProcessSample {
                        pid: *pid,
                        stat: file.read()?,
                    }
                    .event(ts_ns),
                )
            }));
            self.unseen = Some(unseen);
        }
        Ok(())
    }

    /// Makes an iterator instance and reads it to the end into `buf`.
    fn read_all(&mut self) -> Result<()> {
        let link = self.link.as_fd();
        let instance = bpf(bpf_cmd::BPF_ITER_CREATE, |attr| {
            attr.iter_create.link_fd = link.as_raw_fd() as u32;
        })
        .context("cannot start the task iterator (BPF_ITER_CREATE)")?;
        let mut instance = File::from(instance);
        self.buf.clear();
        loop {
            let len = self.buf.len();
            self.buf.resize(len + READ_CHUNK, 0);
            let read = instance
                .read(&mut self.buf[len..])
                .context("cannot read the task iterator")?;
            self.buf.truncate(len + read);
            if read == 0 {
                return Ok(());
            }
        }
    }
}

impl Group {
    fn event(&self, ts_ns: u64, page_bytes: u64) -> Option<Event> {
        let leader = self.leader?;
        let sample = Sample {
            cpu_ns: self.runtime_ns.saturating_add(leader.ended_threads_ns),
            rss_bytes: u64::try_from(leader.rss_pages).unwrap_or(0) * page_bytes,
            state: State::from_letter(state_letter(leader.state, leader.exit_state)),
            threads: leader.threads,
        };
        Some(Event {
            ts_ns,
            pid: leader.tgid,
            tid: leader.tgid,
            ppid: leader.ppid,
            start_ns: leader.start_ns,
            comm: Comm::from_bytes(&leader.comm),
            creds: None,
            cgroup_id: None,
            pid_ns: None,
            cgroup: None,
            kernel_thread: leader.task_flags & PF_KTHREAD != 0,
            kind: Kind::Sample(sample),
        })
    }
}

/// The state letter /proc shows for a task's `__state` and `exit_state`, made as the
/// kernel makes it (`__task_state_index`): the highest reported bit names the state.
fn state_letter(state: u32, exit_state: u32) -> u8 {
    const TASK_REPORT: u32 = 0x7f;
    const TASK_IDLE: u32 = 0x0002 | 0x0400;
    const TASK_REPORT_IDLE: u32 = 0x80;
    const TASK_RTLOCK_WAIT: u32 = 0x1000;
    const TASK_UNINTERRUPTIBLE: u32 = 0x0002;
    let mut report = (state | exit_state) & TASK_REPORT;
    if state & TASK_IDLE == TASK_IDLE {
        report = TASK_REPORT_IDLE;
    }
    if state & TASK_RTLOCK_WAIT != 0 {
        report = TASK_UNINTERRUPTIBLE;
    }
    let index = (u32::BITS - report.leading_zeros()) as usize;
    b"RSDTtXZPI".get(index).copied().unwrap_or(b'?')
}

/// A `bpf(2)` command that returns a new file descriptor, its attributes set by `fill`.
fn bpf(cmd: bpf_cmd, fill: impl FnOnce(&mut bpf_attr)) -> std::io::Result<OwnedFd> {
    // SAFETY: all-zero is a valid bpf_attr, and the kernel reads no more than its size.
    let mut attr: bpf_attr = unsafe { std::mem::zeroed() };
    fill(&mut attr);
    // SAFETY: `attr` is valid for the call; a non-negative result is a new fd we own.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as libc::c_int,
            &mut attr,
            size_of::<bpf_attr>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel just made this fd for us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_proc_shows_them() {
        assert_eq!(state_letter(0, 0), b'R');
        assert_eq!(state_letter(0x1, 0), b'S');
        assert_eq!(state_letter(0x2, 0), b'D');
        assert_eq!(state_letter(0x2 | 0x400, 0), b'I');
        assert_eq!(state_letter(0x4 | 0x100, 0), b'T');
        assert_eq!(state_letter(0x8 | 0x100, 0), b't');
        assert_eq!(state_letter(0x80, 0x20), b'Z');
        assert_eq!(state_letter(0x40, 0), b'P');
    }
}
