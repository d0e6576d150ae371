//! The kernel's proc connector: a netlink socket (NETLINK_CONNECTOR, group CN_IDX_PROC) on
//! which the kernel announces every fork, exec, exit and uid/gid change.
//!
//! The announcements carry pids only. Start time, command name, argv and credentials are
//! read from /proc when an event arrives, so for a process that is already gone by then
//! they can be missing (the argv marked unreadable) or come from what the backend learnt
//! earlier (the parent's, for a fork). A process's identity (pid, start time) stays consistent: a
//! process keeps the start time its fork (or the start-up snapshot) gave it until its exit.
//!
//! The kernel drops announcements when the socket's buffer is full and says so only once
//! (ENOBUFS). Each CPU numbers its announcements, so every gap in a CPU's numbers is
//! counted and reported as a `lost` event.
//!
//! Mapping: fork -> `fork` or `thread_start`; exec -> `exec`; exit -> `exit` for the last
//! thread of a process, else `thread_exit`; uid/gid -> `uid`/`gid`. A command-name change
//! (prctl) updates the name used for later events. Session, ptrace and core-dump
//! announcements have no event of their own and are not reported (an exit already says
//! whether it dumped core).

mod loss;

use std::{
    collections::HashMap,
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd},
    time::{Duration, Instant},
};

use anyhow::{Result, anyhow, bail};
use tokio::io::{Interest, unix::AsyncFd};

use super::FINISH_MARGIN;
use crate::{
    clock,
    event::{Argv, Comm, Creds, Event, ExitStatus, Kind},
    proc::{
        self,
        snapshot::{self, ProcessInfo},
    },
};
use loss::LossCounter;

const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;

const NLMSG_HDR_LEN: usize = 16;
const CN_MSG_LEN: usize = 20;
/// `struct proc_event`: what, cpu, timestamp_ns, then a 24-byte union.
const PROC_EVENT_LEN: usize = 40;

const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 0x1;
const PROC_EVENT_EXEC: u32 = 0x2;
const PROC_EVENT_UID: u32 = 0x4;
const PROC_EVENT_GID: u32 = 0x40;
const PROC_EVENT_COMM: u32 = 0x200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// The kernel answers a subscription at once (in the sending call on current kernels);
/// this only bounds the wait on old ones.
const ACK_TIMEOUT: Duration = Duration::from_secs(1);

/// Messages read per batch before handing them on, so a storm does not hold up consumers.
/// Each exec reads /proc while the runtime waits (stat, status, cmdline and the exe link:
/// 14 us on a quiet machine, several times that under an exec storm), so 4,096 held the
/// runtime and the UI's keys 100-300 ms; 256 hold them a few milliseconds, and handing a
/// batch on still costs little next to reading it.
pub const MAX_BATCH: usize = 256;

#[derive(Clone, Debug)]
pub struct NetlinkOptions {
    /// Size of the socket's receive buffer, where announcements wait to be read. The kernel
    /// doubles it for bookkeeping; each announcement takes about 1 KiB of it.
    pub receive_buffer_bytes: u32,
}

impl Default for NetlinkOptions {
    fn default() -> Self {
        Self {
            receive_buffer_bytes: 16 << 20,
        }
    }
}

/// One proc connector message, copied out of the socket.
#[derive(Clone, Copy, Debug)]
struct Message {
    seq: u32,
    ack: u32,
    what: u32,
    cpu: u32,
    timestamp_ns: u64,
    data: [u8; 24],
}

impl Message {
    fn word(&self, i: usize) -> u32 {
        u32::from_ne_bytes(self.data[i * 4..i * 4 + 4].try_into().expect("4 bytes"))
    }
}

/// What the backend knows about a live process.
struct Process {
    start_ns: u64,
    ppid: u32,
    comm: Comm,
    creds: Option<Creds>,
    kernel_thread: bool,
    /// Its live threads, the leader included until it exits: the process has ended when
    /// the last one has.
    threads: Vec<u32>,
}

impl Process {
    fn from_snapshot(info: ProcessInfo) -> Self {
        let threads = if info.threads > 1 {
            proc::task::thread_ids(info.pid)
                .filter(|tids| !tids.is_empty())
                .unwrap_or_else(|| vec![info.pid])
        } else {
            vec![info.pid]
        };
        Self {
            start_ns: info.start_ns,
            ppid: info.ppid,
            comm: info.comm,
            creds: Some(info.creds),
            kernel_thread: info.kernel_thread,
            threads,
        }
    }

    fn event(&self, ts_ns: u64, pid: u32, tid: u32, kind: Kind) -> Event {
        Event {
            ts_ns,
            pid,
            tid,
            ppid: self.ppid,
            start_ns: self.start_ns,
            comm: self.comm,
            creds: self.creds,
            cgroup_id: None,
            kernel_thread: self.kernel_thread,
            kind,
        }
    }
}

/// A subscription to the proc connector.
pub struct Netlink {
    socket: AsyncFd<OwnedFd>,
    /// Messages received and not yet turned into events.
    received: Vec<Message>,
    loss: LossCounter,
    processes: HashMap<u32, Process>,
    /// The last read stopped at [`MAX_BATCH`]: announcements are waiting.
    backlog: bool,
}

impl Netlink {
    /// Subscribes to the proc connector and learns the processes running now. Must run
    /// inside a tokio runtime.
    pub fn open(options: &NetlinkOptions) -> Result<Self> {
        let Subscribed { fd, early } = subscribe(options)?;
        // SAFETY: the AsyncFd owns the socket, so the fd stays open as long as it is watched.
        let socket =
            unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(|e| {
                anyhow!(
                    "cannot watch the proc connector socket: {}",
                    e.into_parts().1
                )
            })?;
        let mut netlink = Self {
            socket,
            received: early,
            loss: LossCounter::default(),
            processes: HashMap::new(),
            backlog: false,
        };
        // After subscribing, so that no process falls between the snapshot and the events.
        let snapshot =
            snapshot::take().map_err(|e| anyhow!("cannot read /proc (is it mounted?): {e}"))?;
        netlink.processes = snapshot
            .into_iter()
            .map(|info| (info.pid, Process::from_snapshot(info)))
            .collect();
        Ok(netlink)
    }

    /// Waits for announcements and appends the events of a batch of them (at most
    /// [`MAX_BATCH`]) to `out`, then a loss report if any were lost. When more are left,
    /// the next call yields to the runtime once before reading on, so a socket that refills
    /// as fast as it is read still lets the caller's other work run in between.
    pub async fn next_batch(&mut self, out: &mut Vec<Event>) -> Result<()> {
        if self.backlog {
            tokio::task::yield_now().await;
        }
        let mut overflows = 0;
        while self.received.is_empty() && overflows == 0 {
            let mut guard = self.socket.readable().await?;
            let fd = guard.get_inner().as_raw_fd();
            let received = receive(fd, &mut self.received, MAX_BATCH)?;
            if received.drained {
                guard.clear_ready();
            }
            self.backlog = !received.drained;
            overflows += received.overflows;
        }
        self.process(overflows, out);
        Ok(())
    }

    /// Appends what the socket held when called, without waiting, and reports all loss:
    /// the last batch before stopping. It stops after the first batch that holds an
    /// announcement stamped [`FINISH_MARGIN`] after the call (why a margin: there), so a
    /// storm cannot keep it going: it reads at most the socket's buffer and what the margin
    /// brings.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let now = clock::boottime_ns().saturating_sub(clock::monotonic_to_boottime_offset_ns());
        let until = now.saturating_add(FINISH_MARGIN.as_nanos() as u64);
        let fd = self.socket.get_ref().as_raw_fd();
        let mut overflows = 0;
        loop {
            match receive(fd, &mut self.received, MAX_BATCH) {
                Ok(received) => {
                    overflows += received.overflows;
                    let later = self.received.iter().any(|m| m.timestamp_ns > until);
                    self.backlog = !received.drained;
                    if received.drained || later {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!("reading the proc connector at the end: {e}");
                    break;
                }
            }
            self.process(0, out);
        }
        self.process(overflows, out);
    }

    /// Turns the received messages into events, then reports loss. `overflows` is how
    /// many ENOBUFS the reads met.
    fn process(&mut self, overflows: u32, out: &mut Vec<Event>) {
        let offset = clock::monotonic_to_boottime_offset_ns();
        let mut found_gap = false;
        let messages = std::mem::take(&mut self.received);
        for message in &messages {
            found_gap |= self.loss.check(message.cpu, message.seq);
            self.translate(message, message.timestamp_ns + offset, out);
        }
        // Keep the allocation for the next batch.
        self.received = messages;
        self.received.clear();
        if overflows > 0 && !found_gap {
            self.loss.overflowed();
        }
        if let Some(count) = self.loss.take() {
            out.push(Event::lost(clock::boottime_ns(), count));
        }
    }

    fn translate(&mut self, m: &Message, ts_ns: u64, out: &mut Vec<Event>) {
        match m.what {
            PROC_EVENT_FORK => self.fork(m, ts_ns, out),
            PROC_EVENT_EXEC => self.exec(m, ts_ns, out),
            PROC_EVENT_EXIT => self.exit(m, ts_ns, out),
            PROC_EVENT_UID | PROC_EVENT_GID => self.id_change(m, ts_ns, out),
            PROC_EVENT_COMM => {
                let (tid, tgid) = (m.word(0), m.word(1));
                if tid == tgid
                    && let Some(process) = self.processes.get_mut(&tgid)
                {
                    process.comm = Comm::from_bytes(&m.data[8..]);
                }
            }
            PROC_EVENT_NONE => {}
            other => tracing::trace!(what = other, "proc connector event not reported"),
        }
    }

    fn fork(&mut self, m: &Message, ts_ns: u64, out: &mut Vec<Event>) {
        let (parent_tgid, child, child_tgid) = (m.word(1), m.word(2), m.word(3));
        if child != child_tgid {
            let process = self.known(child_tgid, ts_ns);
            process.threads.push(child);
            let event = process.event(ts_ns, child_tgid, child, Kind::ThreadStart);
            out.push(Event {
                ppid: parent_tgid,
                ..event
            });
            return;
        }
        // The start time the kernel gave the child is what /proc shows, if the child is
        // still there and it is still this child; otherwise the announcement's time, which
        // the kernel takes a few microseconds after the start time (so the same clock tick
        // but when a tick boundary falls in between).
        let stat = proc::stat::read(child)
            .filter(|stat| clock::start_ticks(ts_ns).abs_diff(stat.start_ticks) <= 1);
        let parent = self.processes.get(&parent_tgid);
        let process = Process {
            start_ns: stat.map_or(ts_ns, |s| s.start_ns()),
            ppid: parent_tgid,
            // A fork copies the parent's name and credentials; /proc may already show
            // what a quick exec made of them.
            comm: parent
                .map(|p| p.comm)
                .or(stat.map(|s| s.comm))
                .unwrap_or_default(),
            creds: parent.and_then(|p| p.creds),
            kernel_thread: stat.map_or_else(
                || parent_tgid == 2 || parent.is_some_and(|p| p.kernel_thread),
                |s| s.kernel_thread(),
            ),
            threads: vec![child],
        };
        if let Some(old) = self.processes.get(&child)
            && clock::start_ticks(old.start_ns) != clock::start_ticks(process.start_ns)
        {
            // The pid was reused: the process we knew under it ended and its exit was lost.
            out.push(old.event(ts_ns, child, child, Kind::Exit(ExitStatus::Unknown)));
        }
        out.push(process.event(ts_ns, child, child, Kind::Fork));
        self.processes.insert(child, process);
    }

    fn exec(&mut self, m: &Message, ts_ns: u64, out: &mut Vec<Event>) {
        let (tid, tgid) = (m.word(0), m.word(1));
        let info = snapshot::read_process(tgid);
        let filename = proc::exe_path(tgid);
        let process = self.known(tgid, ts_ns);
        // An exec ends every other thread; the one that called it goes on as the leader.
        process.threads = vec![tgid];
        // Gone by now (or its pid reused): the argv is unknown, which is not an empty one.
        let (mut argv, mut argv_truncated, mut argv_unreadable) = (Argv::default(), false, true);
        if let Some(info) = info
            && clock::start_ticks(info.start_ns) == clock::start_ticks(process.start_ns)
        {
            process.comm = info.comm;
            process.creds = Some(info.creds);
            process.ppid = info.ppid;
            // An exec has at least one argument: /proc shows none once the process has
            // ended (a zombie has no memory left to read), so none means unknown.
            argv_unreadable = info.argv.is_empty();
            (argv, argv_truncated) = (info.argv, info.argv_truncated);
        }
        let kind = Kind::Exec {
            filename,
            argv,
            argv_truncated,
            filename_truncated: false,
            argv_unreadable,
        };
        out.push(process.event(ts_ns, tgid, tid, kind));
    }

    fn exit(&mut self, m: &Message, ts_ns: u64, out: &mut Vec<Event>) {
        let (tid, tgid, wait_status, parent_tgid) = (m.word(0), m.word(1), m.word(2), m.word(5));
        let process = self.known(tgid, ts_ns);
        if parent_tgid != 0 {
            process.ppid = parent_tgid;
        }
        process.threads.retain(|&t| t != tid);
        if !process.threads.is_empty() {
            out.push(process.event(ts_ns, tgid, tid, Kind::ThreadExit));
            return;
        }
        // The last thread's status is the process's: a group exit gives every thread the
        // same one, and a leader that ended early ended with pthread_exit (status 0).
        let status = ExitStatus::from_wait_status(wait_status);
        out.push(process.event(ts_ns, tgid, tid, Kind::Exit(status)));
        self.processes.remove(&tgid);
    }

    fn id_change(&mut self, m: &Message, ts_ns: u64, out: &mut Vec<Event>) {
        let (tid, tgid, real, effective) = (m.word(0), m.word(1), m.word(2), m.word(3));
        let process = self.known(tgid, ts_ns);
        let creds = process
            .creds
            .or_else(|| snapshot::read_process(tgid).map(|info| info.creds))
            .unwrap_or_default();
        let (creds, kind) = if m.what == PROC_EVENT_UID {
            let creds = Creds {
                uid: real,
                euid: effective,
                ..creds
            };
            (creds, Kind::Uid { inferred: false })
        } else {
            let creds = Creds {
                gid: real,
                egid: effective,
                ..creds
            };
            (creds, Kind::Gid { inferred: false })
        };
        process.creds = Some(creds);
        out.push(process.event(ts_ns, tgid, tid, kind));
    }

    /// The process `pid`, learnt from /proc now if the backend missed its fork (lost, or
    /// before the snapshot): its start time then comes from /proc if /proc still shows a
    /// process that started before the event, else it is unknown (0).
    fn known(&mut self, pid: u32, ts_ns: u64) -> &mut Process {
        self.processes.entry(pid).or_insert_with(|| {
            let info = snapshot::read_process(pid)
                .filter(|info| clock::start_ticks(info.start_ns) <= clock::start_ticks(ts_ns));
            match info {
                Some(info) => Process::from_snapshot(info),
                None => Process {
                    start_ns: 0,
                    ppid: 0,
                    comm: Comm::default(),
                    creds: None,
                    kernel_thread: false,
                    threads: vec![pid],
                },
            }
        })
    }
}

struct Subscribed {
    fd: OwnedFd,
    /// Messages that arrived before the kernel's answer.
    early: Vec<Message>,
}

/// Opens the socket, joins the proc connector's group and asks the kernel to announce,
/// then waits for its answer: without one, events could only come from another listener's
/// subscription and would stop with it.
fn subscribe(options: &NetlinkOptions) -> Result<Subscribed> {
    if !proc::this_process::in_initial_user_namespace() {
        // The kernel would ignore the subscription without a word.
        bail!(
            "the proc connector answers only processes in the initial user namespace; this \
             process runs in a user namespace (a rootless container?)"
        );
    }
    // SAFETY: plain socket call; the fd is owned right away.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::NETLINK_CONNECTOR,
        )
    };
    if raw < 0 {
        bail!(
            "cannot open a proc connector socket: {} (the kernel needs CONFIG_CONNECTOR and CONFIG_PROC_EVENTS)",
            io::Error::last_os_error()
        );
    }
    // SAFETY: `raw` is a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_receive_buffer(fd.as_raw_fd(), options.receive_buffer_bytes);

    // SAFETY: all-zero is a valid sockaddr_nl; the fields are set below.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    addr.nl_groups = CN_IDX_PROC;
    // SAFETY: `addr` is a valid sockaddr_nl of the size passed.
    let bound = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            std::ptr::from_ref(&addr).cast(),
            size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if bound < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EPERM) {
            bail!("{}", missing_privileges_message());
        }
        bail!("cannot join the proc connector's netlink group: {e}");
    }

    // Our own ack number, to tell the kernel's answer to us from answers to other listeners.
    let ack = std::process::id() ^ clock::boottime_ns() as u32;
    let mut request = [0u8; NLMSG_HDR_LEN + CN_MSG_LEN + 4];
    let len = request.len() as u32;
    request[0..4].copy_from_slice(&len.to_ne_bytes());
    request[4..6].copy_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
    let cn = &mut request[NLMSG_HDR_LEN..];
    cn[0..4].copy_from_slice(&CN_IDX_PROC.to_ne_bytes());
    cn[4..8].copy_from_slice(&CN_VAL_PROC.to_ne_bytes());
    cn[12..16].copy_from_slice(&ack.to_ne_bytes());
    cn[16..18].copy_from_slice(&4u16.to_ne_bytes());
    cn[20..24].copy_from_slice(&PROC_CN_MCAST_LISTEN.to_ne_bytes());
    // SAFETY: sending a byte buffer we own; the socket's default destination is the kernel.
    let sent = unsafe { libc::send(fd.as_raw_fd(), request.as_ptr().cast(), request.len(), 0) };
    if sent < 0 {
        bail!(
            "cannot ask the proc connector for events: {}",
            io::Error::last_os_error()
        );
    }

    let deadline = Instant::now() + ACK_TIMEOUT;
    let mut early = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || !wait_readable(fd.as_raw_fd(), left)? {
            bail!(
                "the kernel did not answer the proc connector subscription (it answers only \
                 processes in the initial PID namespace)"
            );
        }
        let before = early.len();
        receive(fd.as_raw_fd(), &mut early, before + MAX_BATCH)?;
        let answer = early[before..]
            .iter()
            .position(|m| m.what == PROC_EVENT_NONE && m.ack == ack.wrapping_add(1));
        if let Some(i) = answer {
            let err = early.remove(before + i).word(0);
            match err as i32 {
                0 => return Ok(Subscribed { fd, early }),
                libc::EPERM => bail!("{}", missing_privileges_message()),
                err => bail!(
                    "the kernel refused the proc connector subscription: {}",
                    io::Error::from_raw_os_error(err)
                ),
            }
        }
    }
}

/// Asks for a receive buffer of `bytes`; beyond net.core.rmem_max that takes CAP_NET_ADMIN
/// (SO_RCVBUFFORCE), without it the kernel's maximum is used.
fn set_receive_buffer(fd: RawFd, bytes: u32) {
    let size = bytes.min(i32::MAX as u32) as libc::c_int;
    for option in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `size` is a c_int, as both options expect.
        let ret = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                std::ptr::from_ref(&size).cast(),
                size_of::<libc::c_int>() as u32,
            )
        };
        if ret == 0 {
            return;
        }
    }
    tracing::warn!("cannot size the proc connector's receive buffer");
}

fn wait_readable(fd: RawFd, timeout: Duration) -> Result<bool> {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    match unsafe { libc::poll(&mut pollfd, 1, ms) } {
        n if n >= 0 => Ok(n > 0),
        _ => Err(anyhow!(
            "cannot wait on the proc connector socket: {}",
            io::Error::last_os_error()
        )),
    }
}

struct Received {
    /// The socket is empty.
    drained: bool,
    /// How many times the kernel said it had dropped messages (ENOBUFS).
    overflows: u32,
}

/// Reads messages until the socket is empty or `into` holds `max`.
fn receive(fd: RawFd, into: &mut Vec<Message>, max: usize) -> io::Result<Received> {
    let mut buf = [0u8; 8192];
    let mut overflows = 0;
    while into.len() < max {
        // SAFETY: reading into a buffer we own, at most its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EAGAIN) => {
                    return Ok(Received {
                        drained: true,
                        overflows,
                    });
                }
                Some(libc::ENOBUFS) => overflows += 1,
                Some(libc::EINTR) => {}
                _ => return Err(e),
            }
            continue;
        }
        parse_datagram(&buf[..n as usize], into);
    }
    Ok(Received {
        drained: false,
        overflows,
    })
}

/// Appends the proc connector messages of one datagram.
fn parse_datagram(mut bytes: &[u8], into: &mut Vec<Message>) {
    let u32_at =
        |b: &[u8], at: usize| u32::from_ne_bytes(b[at..at + 4].try_into().expect("4 bytes"));
    while bytes.len() >= NLMSG_HDR_LEN {
        let len = u32_at(bytes, 0) as usize;
        if len < NLMSG_HDR_LEN || len > bytes.len() {
            tracing::warn!(len, "malformed netlink message");
            return;
        }
        let kind = u16::from_ne_bytes([bytes[4], bytes[5]]);
        let body = &bytes[NLMSG_HDR_LEN..len];
        if kind == libc::NLMSG_DONE as u16
            && body.len() >= CN_MSG_LEN + PROC_EVENT_LEN
            && u32_at(body, 0) == CN_IDX_PROC
            && u32_at(body, 4) == CN_VAL_PROC
        {
            let event = &body[CN_MSG_LEN..];
            into.push(Message {
                seq: u32_at(body, 8),
                ack: u32_at(body, 12),
                what: u32_at(event, 0),
                cpu: u32_at(event, 4),
                timestamp_ns: u64::from_ne_bytes(event[8..16].try_into().expect("8 bytes")),
                data: event[16..40].try_into().expect("24 bytes"),
            });
        }
        // Messages are padded to 4 bytes.
        bytes = bytes.get((len + 3) & !3..).unwrap_or_default();
    }
}

fn missing_privileges_message() -> String {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    format!(
        "the proc connector needs CAP_NET_ADMIN on this kernel (running as uid {euid} without it)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_connector_messages_and_skips_others() {
        let mut datagram = Vec::new();
        for (what, cpu, seq) in [(PROC_EVENT_EXIT, 1u32, 7u32), (PROC_EVENT_FORK, 0, 8)] {
            let mut msg = vec![0u8; NLMSG_HDR_LEN + CN_MSG_LEN + PROC_EVENT_LEN];
            let len = msg.len() as u32;
            msg[0..4].copy_from_slice(&len.to_ne_bytes());
            msg[4..6].copy_from_slice(&(libc::NLMSG_DONE as u16).to_ne_bytes());
            let cn = NLMSG_HDR_LEN;
            msg[cn..cn + 4].copy_from_slice(&CN_IDX_PROC.to_ne_bytes());
            msg[cn + 4..cn + 8].copy_from_slice(&CN_VAL_PROC.to_ne_bytes());
            msg[cn + 8..cn + 12].copy_from_slice(&seq.to_ne_bytes());
            let ev = cn + CN_MSG_LEN;
            msg[ev..ev + 4].copy_from_slice(&what.to_ne_bytes());
            msg[ev + 4..ev + 8].copy_from_slice(&cpu.to_ne_bytes());
            msg[ev + 8..ev + 16].copy_from_slice(&123u64.to_ne_bytes());
            msg[ev + 16..ev + 20].copy_from_slice(&4242u32.to_ne_bytes());
            datagram.extend_from_slice(&msg);
        }
        let mut other = datagram.clone();
        other[NLMSG_HDR_LEN] = 9; // another connector index
        let mut out = Vec::new();
        parse_datagram(&datagram, &mut out);
        parse_datagram(
            &other[..NLMSG_HDR_LEN + CN_MSG_LEN + PROC_EVENT_LEN],
            &mut out,
        );
        parse_datagram(&datagram[..20], &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].what, out[0].cpu, out[0].seq),
            (PROC_EVENT_EXIT, 1, 7)
        );
        assert_eq!(
            (out[1].what, out[1].seq, out[1].timestamp_ns),
            (PROC_EVENT_FORK, 8, 123)
        );
        assert_eq!(out[1].word(0), 4242);
    }
}
