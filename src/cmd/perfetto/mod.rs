//! `--perfetto OUT`: a recording as Chrome trace-event JSON (`{"traceEvents": [...]}`),
//! which ui.perfetto.dev and chrome://tracing open.
//!
//! Built straight from the event stream, not from the model: the model forgets exited
//! processes (linger, history, byte budget) and keeps a few events per process, while the
//! stream has every lifetime exactly, and what a lifetime needs is written as it happens.
//!
//! The shape (README "Perfetto export"):
//! - A thread track per process (`tid`: its pid; a pid used again in the same trace gets a
//!   number above any pid, 4194305 on). The trace format has no tree of tracks, so
//!   ancestry shows as: one trace "process" per top-level subtree (a process whose parent
//!   is a root of the tree, e.g. a child of init, with its descendants; kernel threads go
//!   with kthreadd); track names indented with `· ` per level below it; the tracks sorted
//!   in tree order (`thread_sort_index`, which chrome://tracing honours and Perfetto does
//!   not); a flow arrow from the parent's track at the fork to the child's lifetime; and
//!   `ppid` in the lifetime's args.
//! - A `pid N` slice per lifetime, from the fork (or the recording's start, for the
//!   processes of its snapshot) to the exit (or the recording's end), its args saying how
//!   it ended; inside it a slice per exec, named by the new command name, from the exec to
//!   the next exec or the end, its args the file and argv (as `events --json` writes
//!   them: bytes that are not UTF-8 also exactly, in `_base64` fields). Both are begin and
//!   end events (`B`, `E`) written when they happen, so that nothing of a program is held
//!   until it ends; where a lifetime and its first exec begin at the same time (the
//!   snapshot's processes), they nest in the order of the file. The end's args (how it
//!   ended, run time) join the begin's.
//! - An instant per uid or gid change, and per loss report (on the recording's track).
//! - A `recording` slice over the whole recording, so the trace lasts exactly as long: to
//!   its end, or to its last event if that is later (a recording still being written, or
//!   one whose frames under-state their times).
//! - Events are taken in the order given: a late event (of a process whose pid already
//!   names a newer one, or of a process whose exit was seen) is dropped, and an event of an
//!   unknown process starts its lifetime at its start time. The eBPF probe's events come in
//!   order; the other backends' may not.
//! - What no kernel writes is skipped: a pid of the snapshot seen before, and pids at or
//!   above [`PID_MAX_LIMIT`] (in the snapshot and in events), or above the blocks of the
//!   hosts of a replay of several ([`host`]), whose tracks are named with each host's own
//!   pids and the top-level subtrees with the host's name too.
//!
//! Memory: the output is streamed. Per live process about 80 bytes; per pid whose last
//! process ended about 16 bytes (a pid is live or ended, never both: at most one entry per
//! pid of the pid space); per process of the trace 12 bytes for the tree order, written at
//! the end (for at most [`ORDERED_MAX`] processes; later ones keep no sort index); at most
//! 512 KiB a host for the pids used.

mod file;
mod order;

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Value, json};

use crate::{
    event::{
        Comm, Event, ExitStatus, KeyMap, Kind, PID_MAX_LIMIT, ProcessKey,
        host::{self, Hosts, shown_pid},
    },
    proc::snapshot::ProcessInfo,
    recording::Info,
};

pub use file::{create, export, not_the_recording, write_error};

/// The most hosts of a replay of several a trace holds: their pids, the recording's track
/// and the spare track ids all fit below 2^32.
pub const MAX_TRACE_HOSTS: usize = 511;
/// Processes whose place in the tree order is kept (12 bytes each: 48 MiB).
pub const ORDERED_MAX: usize = 1 << 22;
const NO_PARENT: u32 = u32::MAX;

/// One trace event; the fields the format defines, those not needed left out.
#[derive(Serialize)]
struct TraceEvent<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cat: &'a str,
    ph: &'a str,
    ts: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    dur: Option<f64>,
    pid: u32,
    tid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    s: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bp: Option<&'a str>,
    #[serde(skip_serializing_if = "Value::is_null")]
    args: Value,
}

impl<'a> TraceEvent<'a> {
    fn new(ph: &'a str, name: &'a str, ts: f64, (pid, tid): (u32, u32)) -> Self {
        Self {
            name,
            cat: "",
            ph,
            ts,
            dur: None,
            pid,
            tid,
            s: None,
            id: None,
            bp: None,
            args: Value::Null,
        }
    }
}

/// A process alive at this point of the trace.
struct Live {
    key: ProcessKey,
    /// Its number in the trace, in the order processes appear.
    seq: u32,
    tid: u32,
    /// The trace "process" of its top-level subtree: the tid of that subtree's root.
    group: u32,
    depth: u32,
    /// Has no known parent: a root of the tree.
    top: bool,
    /// When it started (before the recording, for those of its snapshot).
    start_ns: u64,
    comm: Comm,
    in_exec: bool,
}

impl Live {
    fn track(&self) -> (u32, u32) {
        (self.group, self.tid)
    }
}

/// A process that gets a track.
struct Born {
    key: ProcessKey,
    start_ns: u64,
    ppid: u32,
    comm: Comm,
    kernel_thread: bool,
}

/// How a lifetime slice ends.
enum Ending {
    Exit(ExitStatus),
    /// Still running when the recording ended.
    Running,
    /// Its pid came back as another process before its exit was seen (lost events).
    Unseen,
}

/// Where a process goes in the tree order: its parent's number, its track.
#[derive(Clone, Copy)]
struct Placed {
    parent: u32,
    group: u32,
    tid: u32,
}

/// The trace being written to `out`.
pub struct Trace<W: Write> {
    out: W,
    origin_ns: u64,
    written: u64,
    live: KeyMap<u32, Live>,
    /// The start (in ticks) of the last process of each pid not live that ended: its
    /// events, and older ones', come late.
    ended: KeyMap<u32, u64>,
    /// The latest event time seen: the trace ends no earlier.
    latest_ns: u64,
    placed: Vec<Placed>,
    seq: u32,
    /// Pids given a track already, one bit each, by block of pids (512 KiB a host).
    used_pids: Vec<Vec<u64>>,
    spare_tid: u32,
    /// No pid of the recording is this high: the trace "process" and thread of the
    /// recording's own track.
    recording: u32,
    /// Whose processes these are: named in the tracks of a replay of several hosts.
    hosts: Hosts,
}

impl<W: Write> Trace<W> {
    /// Starts the trace of the recording `info` describes, whose processes at the start
    /// are `snapshot`.
    pub fn start(mut out: W, info: &Info, snapshot: &[ProcessInfo]) -> io::Result<Self> {
        if info.hosts.len() > MAX_TRACE_HOSTS {
            return Err(io::Error::other(format!(
                "a trace holds at most {MAX_TRACE_HOSTS} hosts"
            )));
        }
        let recording = (info.hosts.len() as u32 + 1) * PID_MAX_LIMIT;
        let header = json!({
            "displayTimeUnit": "ms",
            "otherData": {
                "recorded_by": info.recorder,
                "host": info.host,
                "kernel": info.kernel,
                "backend": info.backend,
                "start": info.wall_clock().time_of_day(info.start_ns),
                "start_boottime_ns": info.start_ns,
            },
        });
        let header = serde_json::to_string(&header)?;
        // The same object, left open for the events.
        out.write_all(&header.as_bytes()[..header.len() - 1])?;
        out.write_all(b",\"traceEvents\":[\n")?;
        let mut trace = Self {
            out,
            origin_ns: info.start_ns,
            written: 0,
            live: KeyMap::default(),
            ended: KeyMap::default(),
            latest_ns: info.start_ns,
            placed: Vec::new(),
            seq: 0,
            used_pids: Vec::new(),
            spare_tid: recording + 1,
            recording,
            hosts: info.hosts(),
        };
        let name = TraceEvent {
            args: json!({"name": "recording"}),
            ..TraceEvent::new("M", "process_name", 0.0, (recording, recording))
        };
        trace.write(&name)?;
        let mut snapshot: Vec<&ProcessInfo> = snapshot.iter().collect();
        // Parents before children.
        snapshot.sort_by_key(|p| (p.start_ns, p.pid));
        for p in snapshot {
            // Repeated or impossible pids come only from a crafted recording.
            if p.pid < recording && !trace.live.contains_key(&p.pid) {
                trace.seed(p)?;
            }
        }
        Ok(trace)
    }

    /// Adds one event of the recording.
    pub fn event(&mut self, e: &Event) -> io::Result<()> {
        self.latest_ns = self.latest_ns.max(e.ts_ns);
        let ts = self.us(e.ts_ns);
        match &e.kind {
            Kind::Lost { count } => {
                let name = format!("{count} events lost");
                let lost = TraceEvent {
                    s: Some("g"),
                    args: json!({"count": count}),
                    ..TraceEvent::new("i", &name, ts, (self.recording, self.recording))
                };
                return self.write(&lost);
            }
            Kind::ThreadStart | Kind::ThreadExit => return Ok(()),
            _ if e.pid >= self.recording => return Ok(()),
            _ => {}
        }
        if !self.knows(e)? {
            return Ok(());
        }
        match &e.kind {
            Kind::Exec {
                filename,
                argv,
                argv_truncated,
                filename_truncated,
                argv_unreadable,
            } => {
                let args = json!({
                    "filename": filename,
                    "filename_base64": filename.base64_beside(),
                    "filename_truncated": filename_truncated,
                    "argv": argv,
                    "argv_base64": argv.base64_beside(),
                    "argv_truncated": argv_truncated,
                    "argv_unreadable": argv_unreadable,
                    "creds": e.creds,
                });
                self.begin_exec(e.pid, e.ts_ns, e.comm, exact_only_if_needed(args))
            }
            Kind::Exit(status, _) => {
                let live = self.live.remove(&e.pid).expect("known");
                self.ended.insert(e.pid, live.key.start_ticks);
                self.end(live, e.ts_ns, Ending::Exit(*status))
            }
            Kind::Uid { inferred } | Kind::Gid { inferred } => {
                let track = self.live[&e.pid].track();
                let creds = e.creds.unwrap_or_default();
                let name = match e.kind {
                    Kind::Uid { .. } => format!("uid {}", creds.uid),
                    _ => format!("gid {}", creds.gid),
                };
                let change = TraceEvent {
                    s: Some("t"),
                    args: json!({"creds": e.creds, "inferred": inferred}),
                    ..TraceEvent::new("i", &name, ts, track)
                };
                self.write(&change)
            }
            Kind::Fork
            | Kind::ThreadStart
            | Kind::ThreadExit
            | Kind::Lost { .. }
            | Kind::Sample(_) => Ok(()),
        }
    }

    /// Ends what still runs at `end_ns`, when the recording ended (or at its last event, if
    /// later), and the trace; says how many trace events it holds.
    pub fn finish(mut self, end_ns: u64) -> io::Result<u64> {
        let end_ns = end_ns.max(self.latest_ns);
        let mut running: Vec<Live> = self.live.drain().map(|(_, live)| live).collect();
        running.sort_by_key(|live| live.seq);
        for live in running {
            self.end(live, end_ns, Ending::Running)?;
        }
        let span = end_ns.saturating_sub(self.origin_ns);
        let recording = TraceEvent {
            dur: Some(span as f64 / 1e3),
            args: json!({"duration_ns": span}),
            ..TraceEvent::new("X", "recording", 0.0, (self.recording, self.recording))
        };
        self.write(&recording)?;
        self.write_tree_order()?;
        self.out.write_all(b"\n]}\n")?;
        self.out.flush()?;
        Ok(self.written)
    }

    fn us(&self, ns: u64) -> f64 {
        ns.saturating_sub(self.origin_ns) as f64 / 1e3
    }

    fn write(&mut self, event: &TraceEvent) -> io::Result<()> {
        if self.written > 0 {
            self.out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut self.out, event)?;
        self.written += 1;
        Ok(())
    }

    /// A process of the snapshot: alive since before the recording, shown from its start.
    fn seed(&mut self, p: &ProcessInfo) -> io::Result<()> {
        let born = Born {
            key: ProcessKey::new(p.pid, p.start_ns),
            start_ns: p.start_ns,
            ppid: p.ppid,
            comm: p.comm,
            kernel_thread: p.kernel_thread,
        };
        let parent = self.live.get(&p.ppid).map(|l| (l.group, l.depth, l.top));
        self.begin(born, self.origin_ns, parent)?;
        if p.argv.is_empty() {
            return Ok(());
        }
        let args = json!({
            "argv": p.argv,
            "argv_base64": p.argv.base64_beside(),
            "argv_truncated": p.argv_truncated,
            "creds": p.creds,
            "started_before_the_recording": true,
        });
        self.begin_exec(p.pid, self.origin_ns, p.comm, exact_only_if_needed(args))
    }

    /// Whether `e`'s process has a track (given one now if it is new); false for a late
    /// event: of a process whose pid names a newer one, or of one that ended (an exit
    /// delivered before the process's exec or fork).
    fn knows(&mut self, e: &Event) -> io::Result<bool> {
        let key = ProcessKey::of(e);
        match self.live.get(&e.pid) {
            Some(live) if live.key == key => return Ok(true),
            Some(live) if live.key > key => return Ok(false),
            Some(_) => {
                let gone = self.live.remove(&e.pid).expect("found");
                self.end(gone, e.ts_ns, Ending::Unseen)?;
            }
            None => {
                if matches!(self.ended.get(&e.pid), Some(&ended) if ended >= key.start_ticks) {
                    return Ok(false);
                }
            }
        }
        let begin_ns = match e.kind {
            Kind::Fork => e.ts_ns,
            _ => e
                .start_ns
                .clamp(self.origin_ns, e.ts_ns.max(self.origin_ns)),
        };
        let born = Born {
            key,
            start_ns: e.start_ns,
            ppid: e.ppid,
            comm: e.comm,
            kernel_thread: e.kernel_thread,
        };
        let parent = self.live.get(&e.ppid).map(|l| (l.group, l.depth, l.top));
        self.begin(born, begin_ns, parent)?;
        if matches!(e.kind, Kind::Fork) && parent.is_some() {
            self.fork_arrow(e)?;
        }
        Ok(true)
    }

    /// Gives `born` a track and begins its lifetime at `begin_ns`, under `parent` (its
    /// group, depth and whether it is a root of the tree) if it is known.
    fn begin(
        &mut self,
        born: Born,
        begin_ns: u64,
        parent: Option<(u32, u32, bool)>,
    ) -> io::Result<()> {
        let key = born.key;
        let tid = self.track_id(key.pid);
        let (group, depth) = match parent {
            Some((group, depth, top)) if !top || born.kernel_thread => (group, depth + 1),
            _ => (tid, 0),
        };
        let seq = self.seq;
        self.seq = self.seq.saturating_add(1);
        if self.placed.len() < ORDERED_MAX {
            let parent = self.live.get(&born.ppid).map_or(NO_PARENT, |l| l.seq);
            self.placed.push(Placed { parent, group, tid });
        }
        let live = Live {
            key,
            seq,
            tid,
            group,
            depth,
            // A host's own top process is no parent: its children are the tops of its tree.
            top: parent.is_none() || is_host_root(born.ppid),
            start_ns: born.start_ns,
            comm: born.comm,
            in_exec: false,
        };
        let name = format!("pid {}", shown_pid(key.pid));
        let mut args = json!({
            "pid": shown_pid(key.pid),
            "ppid": shown_pid(born.ppid),
            "started_before_the_recording": born.start_ns < self.origin_ns,
        });
        if !self.hosts.merged.is_empty() {
            args["host"] = json!(self.hosts.name_of(key.pid));
        }
        let lifetime = TraceEvent {
            cat: "lifetime",
            args,
            ..TraceEvent::new("B", &name, self.us(begin_ns), live.track())
        };
        self.live.insert(key.pid, live);
        self.ended.remove(&key.pid);
        self.write(&lifetime)
    }

    /// The arrow from the parent's track at the fork to the child's lifetime.
    fn fork_arrow(&mut self, e: &Event) -> io::Result<()> {
        let ts = self.us(e.ts_ns);
        let (from, to, id) = {
            let child = &self.live[&e.pid];
            (self.live[&e.ppid].track(), child.track(), child.seq)
        };
        let start = TraceEvent {
            cat: "fork",
            id: Some(id),
            ..TraceEvent::new("s", "fork", ts, from)
        };
        self.write(&start)?;
        let end = TraceEvent {
            cat: "fork",
            id: Some(id),
            bp: Some("e"),
            ..TraceEvent::new("f", "fork", ts, to)
        };
        self.write(&end)
    }

    /// A pid's track id: the pid itself the first time, then a spare number.
    fn track_id(&mut self, pid: u32) -> u32 {
        let (block, at) = ((pid / PID_MAX_LIMIT) as usize, pid % PID_MAX_LIMIT);
        let (word, bit) = (at as usize / 64, 1u64 << (at % 64));
        if self.used_pids.len() <= block {
            self.used_pids.resize_with(block + 1, Vec::new);
        }
        let bits = &mut self.used_pids[block];
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & bit == 0 {
            bits[word] |= bit;
            return pid;
        }
        self.spare_tid = self.spare_tid.saturating_add(1);
        self.spare_tid - 1
    }

    fn begin_exec(&mut self, pid: u32, ts_ns: u64, comm: Comm, args: Value) -> io::Result<()> {
        let ts = self.us(ts_ns);
        let live = self.live.get_mut(&pid).expect("known");
        let ended = std::mem::replace(&mut live.in_exec, true);
        live.comm = comm;
        let track = live.track();
        if ended {
            self.write(&TraceEvent::new("E", "", ts, track))?;
        }
        let name = comm.as_str();
        let exec = TraceEvent {
            cat: "exec",
            args,
            ..TraceEvent::new("B", &name, ts, track)
        };
        self.write(&exec)
    }

    /// Writes `live`'s lifetime, ended at `end_ns`, and names its track.
    fn end(&mut self, live: Live, end_ns: u64, ending: Ending) -> io::Result<()> {
        let ts = self.us(end_ns);
        if live.in_exec {
            self.write(&TraceEvent::new("E", "", ts, live.track()))?;
        }
        let mut args = json!({"run_ns": end_ns.saturating_sub(live.start_ns)});
        args["ended"] = match ending {
            Ending::Exit(status) => {
                args["exit_code"] = json!(status.code());
                args["signal"] = json!(status.signal());
                args["core_dumped"] =
                    json!(matches!(status, ExitStatus::Signal { core_dumped, .. } if core_dumped));
                json!(status.to_string())
            }
            Ending::Running => json!("still running when the recording ended"),
            Ending::Unseen => json!("exit not seen (events lost)"),
        };
        let lifetime = TraceEvent {
            args,
            ..TraceEvent::new("E", "", ts, live.track())
        };
        self.write(&lifetime)?;
        self.name_track(&live)
    }

    /// Names `live`'s track by its last command name, indented by its depth; a subtree's
    /// root also names the trace "process".
    fn name_track(&mut self, live: &Live) -> io::Result<()> {
        let indent = match live.depth {
            0..=16 => "· ".repeat(live.depth as usize),
            deep => format!("·{deep} "),
        };
        let pid = shown_pid(live.key.pid);
        let name = format!("{}{} {pid}", indent, live.comm.as_str());
        let thread = TraceEvent {
            args: json!({"name": name}),
            ..TraceEvent::new("M", "thread_name", 0.0, live.track())
        };
        self.write(&thread)?;
        if live.group != live.tid {
            return Ok(());
        }
        let name = match self.hosts.several() {
            true => format!(
                "{} {pid} on {}",
                live.comm.as_str(),
                self.hosts.name_of(live.key.pid)
            ),
            false => format!("{} {pid}", live.comm.as_str()),
        };
        let process = TraceEvent {
            args: json!({"name": name}),
            ..TraceEvent::new("M", "process_name", 0.0, live.track())
        };
        self.write(&process)
    }
}

/// Whether `pid` is a host's own top process in a replay of several hosts (its pid 0).
fn is_host_root(pid: u32) -> bool {
    matches!(host::host_pid(pid), (Some(_), 0))
}

/// `args` without the `_base64` fields that are null: as in `events --json`, they are there
/// only when the text beside them is not the exact bytes.
fn exact_only_if_needed(mut args: Value) -> Value {
    if let Value::Object(fields) = &mut args {
        fields.retain(|name, value| !(name.ends_with("_base64") && value.is_null()));
    }
    args
}

#[cfg(test)]
mod tests;
