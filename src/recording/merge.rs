//! Several recordings as one: `replay A.fwrec B.fwrec` writes their merge, a recording of
//! its own, and replays that as it replays one file, so that every way of replaying (the
//! UI's seeks, `--tree-at`, `--diff`, the critical path) works on several hosts unchanged.
//!
//! Each host gets a block of pids ([`host::merged_pid`]) and a process of its own at the
//! top, pid 0 of its block, named after it: its pid 1 and kthreadd, whose parent is pid 0,
//! are that process's children. Times are moved onto one clock: a host's CLOCK_BOOTTIME
//! plus how much later than the earliest of them it booted (the difference between the
//! recordings' wall-clock offsets), so that every event shows at the time of day its own
//! host's clock gave it. Skew between the hosts' clocks is not corrected.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, VecDeque},
    fs::File,
    io::{self, BufReader, Seek},
};

use super::{
    Info, LiveSet, Reader, Writer,
    keyframe::{KEYFRAME_EVENTS, KEYFRAME_GROWTH},
    recorder::Keyframes,
};
use crate::{
    event::{
        Argv, Comm, Event, Kind, PID_MAX_LIMIT,
        host::{self, MAX_HOSTS},
    },
    proc::snapshot::ProcessInfo,
};

/// A recording to merge, and how to name it in a message.
pub struct Part {
    pub path: String,
    pub reader: Reader<BufReader<File>>,
}

/// One input on its way into the merge.
struct Host {
    path: String,
    reader: Reader<BufReader<File>>,
    /// Its block of pids.
    index: usize,
    /// Added to its times: how much later than the earliest host it booted.
    shift: u64,
    /// Its events read and not yet merged, times moved and pids in its block.
    batch: VecDeque<Event>,
    /// What its reader's last frame gave, before it is moved into `batch`.
    read: Vec<Event>,
}

/// How a merge keeps keyframes: a live set seeded with the merge's snapshot
/// (`Model::for_keyframes`, which this layer does not know).
pub type KeyframeModel = fn(&[ProcessInfo]) -> Box<dyn LiveSet>;

/// Writes the merge of `parts` (in that order: their pid blocks) into `out`, with
/// keyframes as a recorder writes them, and returns it, ready to be read from the start.
/// With `skip_damage`, a damaged part goes on from its next intact frame, and what was
/// skipped is in the notes returned; otherwise damage is an error naming the file.
pub fn merge(
    parts: Vec<Part>,
    out: File,
    skip_damage: bool,
    keyframes: KeyframeModel,
) -> Result<(File, Vec<String>), String> {
    if parts.len() > MAX_HOSTS {
        return Err(format!("at most {MAX_HOSTS} recordings replay together"));
    }
    if let Some(part) = parts.iter().find(|p| !p.reader.info().hosts.is_empty()) {
        return Err(format!(
            "{} is already a replay of several hosts: give the recordings it was made of",
            part.path
        ));
    }
    let infos: Vec<&Info> = parts.iter().map(|p| p.reader.info()).collect();
    let earliest = (infos.iter().map(|i| i.wall_clock_offset_ns).min()).unwrap_or(0);
    let names = host_names(&infos);
    let snapshot = merged_snapshot(&parts, &names, earliest);
    let info = merged_info(&infos, names, earliest);
    let mut hosts: Vec<Host> = (parts.into_iter().enumerate())
        .map(|(index, part)| Host {
            shift: shift(part.reader.info(), earliest),
            path: part.path,
            reader: part.reader,
            index,
            batch: VecDeque::new(),
            read: Vec::new(),
        })
        .collect();
    let failed = |e: io::Error| format!("cannot write the merge of the recordings: {e}");
    // Each frame goes out in one write: nothing to gain from a buffer.
    let writer = Writer::new(out, &info, &snapshot).map_err(failed)?;
    let live = keyframes(&snapshot);
    drop(snapshot);
    let mut out = Out {
        writer,
        keyframes: Keyframes::new(live, KEYFRAME_EVENTS, KEYFRAME_GROWTH),
        batch: Vec::new(),
    };
    let mut notes = Vec::new();
    let end_ns = interleave(&mut hosts, &mut out, skip_damage, &mut notes)?;
    out.flush().map_err(failed)?;
    let mut writer = out.writer;
    writer.finish(end_ns.max(info.start_ns)).map_err(failed)?;
    let mut file = writer.into_inner();
    file.rewind().map_err(failed)?;
    Ok((file, notes))
}

/// Each host's root, then its snapshot, moved into its block and onto the merge's clock.
fn merged_snapshot(parts: &[Part], names: &[String], earliest: i64) -> Vec<ProcessInfo> {
    let mut snapshot = Vec::new();
    for (index, (part, name)) in parts.iter().zip(names).enumerate() {
        let shift = shift(part.reader.info(), earliest);
        snapshot.push(host_root(index, name));
        let moved = (part.reader.snapshot().iter()).filter_map(|p| moved_process(p, index, shift));
        snapshot.extend(moved);
    }
    snapshot
}

/// Writes every host's events in the order of their moved times, each host's in its own
/// order; returns the latest time.
fn interleave(
    hosts: &mut [Host],
    out: &mut Out,
    skip_damage: bool,
    notes: &mut Vec<String>,
) -> Result<u64, String> {
    let mut heads = BinaryHeap::new();
    for host in hosts.iter_mut() {
        if let Some(ts) = host.next_time(skip_damage, notes)? {
            heads.push(Reverse((ts, host.index)));
        }
    }
    let mut end_ns = 0;
    while let Some(Reverse((ts, index))) = heads.pop() {
        let host = &mut hosts[index];
        let event = host.batch.pop_front().expect("a head is a queued event");
        end_ns = end_ns.max(ts);
        out.push(event)
            .map_err(|e| format!("cannot write the merge of the recordings: {e}"))?;
        if let Some(ts) = host.next_time(skip_damage, notes)? {
            heads.push(Reverse((ts, index)));
        }
    }
    for host in hosts.iter() {
        let end = host
            .reader
            .end()
            .map(|end| end.end_ns.saturating_add(host.shift));
        end_ns = end_ns.max(end.unwrap_or(0));
    }
    Ok(end_ns)
}

/// The merge being written, and the model its keyframes come from, fed a batch at a time.
struct Out {
    writer: Writer<File>,
    keyframes: Keyframes,
    batch: Vec<Event>,
}

/// Events handed to the keyframes' model at a time.
const BATCH: usize = 4096;

impl Out {
    fn push(&mut self, event: Event) -> io::Result<()> {
        self.writer.push(&event)?;
        self.batch.push(event);
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Feeds the model what was pushed, which writes a keyframe when one is due.
    fn flush(&mut self) -> io::Result<()> {
        self.keyframes.after(&self.batch, &mut self.writer)?;
        self.batch.clear();
        Ok(())
    }
}

impl Host {
    /// The time of the next event, reading the next frame when none is queued; `None`
    /// when the recording has no more.
    fn next_time(
        &mut self,
        skip_damage: bool,
        notes: &mut Vec<String>,
    ) -> Result<Option<u64>, String> {
        while self.batch.is_empty() {
            self.read.clear();
            match self.reader.next_batch(&mut self.read) {
                Ok(true) => {}
                Ok(false) => return Ok(None),
                Err(damage) if skip_damage => {
                    notes.push(format!("{} is {damage}", self.path));
                    if self.reader.resync().at.is_none() {
                        return Ok(None);
                    }
                }
                Err(damage) => {
                    return Err(format!(
                        "{} is {damage} (--skip-damage goes on after it)",
                        self.path
                    ));
                }
            }
            let (index, shift) = (self.index, self.shift);
            self.batch.extend(
                self.read
                    .drain(..)
                    .filter_map(|e| moved_event(e, index, shift)),
            );
        }
        Ok(self.batch.front().map(|e| e.ts_ns))
    }
}

/// How much later than the earliest of the hosts this one booted.
pub(super) fn shift(info: &Info, earliest: i64) -> u64 {
    info.wall_clock_offset_ns.abs_diff(earliest)
}

/// The host names, in order; a name given twice is told apart by its number.
pub(super) fn host_names(infos: &[&Info]) -> Vec<String> {
    let mut names: Vec<String> = Vec::with_capacity(infos.len());
    for info in infos {
        let same = infos
            .iter()
            .take(names.len())
            .filter(|i| i.host == info.host)
            .count();
        names.push(match same {
            0 => info.host.clone(),
            n => format!("{} ({})", info.host, n + 1),
        });
    }
    names
}

/// The merge's info: its hosts, the earliest clock, and what the parts share.
pub(super) fn merged_info(infos: &[&Info], hosts: Vec<String>, earliest: i64) -> Info {
    let shared = |field: fn(&Info) -> &str| {
        let mut values: Vec<&str> = infos.iter().map(|i| field(i)).collect();
        values.dedup();
        values.join(", ")
    };
    let start_ns = (infos.iter())
        .map(|i| i.start_ns.saturating_add(shift(i, earliest)))
        .min()
        .unwrap_or(0);
    let mut info = Info::here(&shared(|i| &i.backend), start_ns);
    info.host = hosts.join(", ");
    info.kernel = shared(|i| &i.kernel);
    info.wall_clock_offset_ns = earliest;
    info.hosts = hosts;
    info
}

/// The process at the top of host `index`: pid 0 of its block, named after the host.
/// Every host's starts at 0, when the first of them booted: before every process of
/// its host, so all can be its children, and at the same time as the others', so they
/// are shown in the order the recordings were given.
pub(super) fn host_root(index: usize, name: &str) -> ProcessInfo {
    ProcessInfo {
        pid: host::merged_pid(index, 0),
        ppid: 0,
        start_ns: 0,
        comm: Comm::from_bytes(name.as_bytes()),
        argv: Argv::from_area(&[name.as_bytes(), b"\0"].concat()),
        argv_truncated: false,
        creds: Default::default(),
        state: 'S',
        kernel_thread: false,
        threads: 1,
        pid_ns: None,
        cgroup: None,
        sampled: None,
    }
}

/// Whether `pid` is one a kernel gives: others would land on another pid of the block
/// (its root, pid 0) once moved.
fn real(pid: u32) -> bool {
    (1..PID_MAX_LIMIT).contains(&pid)
}

/// A snapshot's process in host `index`'s block, on the merge's clock; `None` for one
/// whose pid no kernel gives.
pub(super) fn moved_process(
    process: &ProcessInfo,
    index: usize,
    shift: u64,
) -> Option<ProcessInfo> {
    if !real(process.pid) || process.ppid >= PID_MAX_LIMIT {
        return None;
    }
    let mut p = process.clone();
    p.pid = host::merged_pid(index, p.pid);
    p.ppid = host::merged_pid(index, p.ppid);
    p.start_ns = p.start_ns.saturating_add(shift);
    if let Some(sampled) = &mut p.sampled {
        sampled.at_ns = sampled.at_ns.saturating_add(shift);
    }
    // Its pid where it is in the host's own namespace: still the same as its pid.
    if let Some(ns) = &mut p.pid_ns
        && ns.pid == process.pid
    {
        ns.pid = p.pid;
    }
    Some(p)
}

/// An event in host `index`'s block, on the merge's clock; `None` for one that names a
/// pid no kernel gives (a loss report names none).
pub(super) fn moved_event(mut event: Event, index: usize, shift: u64) -> Option<Event> {
    let lost = matches!(event.kind, Kind::Lost { .. });
    let moved = lost || real(event.pid) && real(event.tid);
    if !moved || event.ppid >= PID_MAX_LIMIT {
        return None;
    }
    let own = event.pid;
    event.pid = host::merged_pid(index, event.pid);
    event.tid = host::merged_pid(index, event.tid);
    event.ppid = host::merged_pid(index, event.ppid);
    event.ts_ns = event.ts_ns.saturating_add(shift);
    if event.start_ns > 0 {
        event.start_ns = event.start_ns.saturating_add(shift);
    }
    if let Some(ns) = &mut event.pid_ns
        && ns.pid == own
    {
        ns.pid = event.pid;
    }
    Some(event)
}
