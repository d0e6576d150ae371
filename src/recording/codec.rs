//! The binary form of events inside an events frame (docs/recording.md, "Events frames
//! (type 3)"). Hand-written rather than derived so the file format cannot change by accident
//! when a Rust type does, and so decoding stays fast (varints, no field names). A record's
//! kind tag is the kinds table's ([`KindName::codec_tag`]), whose tests pin it.

use std::collections::HashMap;

use crate::event::{
    Argv, ByteString, CgroupPath, Comm, Creds, Event, ExitStatus, Kind, KindName, PidNamespace,
    Sample, State, Usage,
};

const HAS_CREDS: u8 = 1;
const HAS_CGROUP: u8 = 2;
const KERNEL_THREAD: u8 = 4;
const TID_DIFFERS: u8 = 8;
const ARGV_TRUNCATED: u8 = 16;
/// Format version 2 on: the file name was cut.
const FILENAME_TRUNCATED: u8 = 32;
/// Format version 2 on: the argv could not be read.
const ARGV_UNREADABLE: u8 = 64;
/// Format version 2 on: a uid or gid change inferred from other ids on a later event.
const INFERRED: u8 = 128;
/// The flags only an exec carries.
const EXEC_FLAGS: u8 = ARGV_TRUNCATED | FILENAME_TRUNCATED | ARGV_UNREADABLE;
/// The flags format version 1 has.
const VERSION_1_FLAGS: u8 = HAS_CREDS | HAS_CGROUP | KERNEL_THREAD | TID_DIFFERS | ARGV_TRUNCATED;

/// Format version 3 on, in the second flags byte: the PID namespace's inode follows.
const HAS_PID_NS: u8 = 1;
/// With [`HAS_PID_NS`]: the pid in the namespace follows (otherwise it is the pid).
const NS_PID_DIFFERS: u8 = 2;
/// The cgroup path follows.
const HAS_CGROUP_PATH: u8 = 4;
/// The cgroup path is the one an earlier record of the frame gave with this cgroup id.
const CGROUP_PATH_AS_BEFORE: u8 = 8;
/// Format version 4 on, exits only: what the kernel accounted to the process follows.
const HAS_USAGE: u8 = 16;
const PLACE_FLAGS: u8 =
    HAS_PID_NS | NS_PID_DIFFERS | HAS_CGROUP_PATH | CGROUP_PATH_AS_BEFORE | HAS_USAGE;

/// What the records of one frame share: the previous record's time, and the cgroup paths
/// given so far, by cgroup id. A new frame starts from [`FrameContext::default`].
#[derive(Default)]
pub struct FrameContext {
    prev_ts: u64,
    cgroups: HashMap<u64, CgroupPath>,
}

/// The fewest bytes a record takes: kind, flags, and one byte each for the time, pid,
/// ppid, process start and command name's length.
pub const MIN_RECORD_LEN: usize = 7;

const EXIT_CODE: u8 = 0;
const EXIT_SIGNAL: u8 = 1;
const EXIT_SIGNAL_CORE: u8 = 2;
const EXIT_UNKNOWN: u8 = 3;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Appends one event, in the newest format. Times are stored as differences from the
/// previous event's in the same frame, which are small; a cgroup path once per frame.
pub fn encode(event: &Event, frame: &mut FrameContext, out: &mut Vec<u8>) {
    out.push(event.kind_name().codec_tag());
    out.push(flags(event));
    let place = place_flags(event, frame);
    out.push(place);
    put_varint(out, zigzag(event.ts_ns.wrapping_sub(frame.prev_ts) as i64));
    frame.prev_ts = event.ts_ns;
    put_varint(out, event.pid.into());
    if event.tid != event.pid {
        put_varint(out, event.tid.into());
    }
    put_varint(out, event.ppid.into());
    // A process's start is usually shortly before the event, so the difference is short.
    put_varint(out, zigzag(event.ts_ns.wrapping_sub(event.start_ns) as i64));
    let comm = event.comm.as_bytes();
    out.push(comm.len() as u8);
    out.extend_from_slice(comm);
    if let Some(c) = event.creds {
        for id in [c.uid, c.euid, c.gid, c.egid] {
            put_varint(out, id.into());
        }
    }
    if let Some(cgroup) = event.cgroup_id {
        put_varint(out, cgroup);
    }
    if let Some(ns) = event.pid_ns {
        put_varint(out, ns.inode.into());
        if ns.pid != event.pid {
            put_varint(out, ns.pid.into());
        }
    }
    if place & HAS_CGROUP_PATH != 0
        && let Some(path) = &event.cgroup
    {
        put_bytes(out, path.as_bytes());
        if let Some(id) = event.cgroup_id {
            frame.cgroups.insert(id, path.clone());
        }
    }
    match &event.kind {
        Kind::Exec { filename, argv, .. } => {
            put_bytes(out, filename.as_bytes());
            put_varint(out, argv.len() as u64);
            for arg in argv.iter() {
                put_bytes(out, arg);
            }
        }
        Kind::Exit(status, usage) => {
            encode_exit(*status, out);
            if let Some(usage) = usage {
                encode_usage(usage, out);
            }
        }
        Kind::Lost { count } => put_varint(out, *count),
        Kind::Sample(sample) => {
            put_varint(out, sample.cpu_ns);
            put_varint(out, sample.rss_bytes);
            out.push(sample.state.letter() as u8);
            put_varint(out, sample.threads.into());
        }
        Kind::Fork | Kind::ThreadStart | Kind::ThreadExit | Kind::Uid { .. } | Kind::Gid { .. } => {
        }
    }
}

/// The record's flags byte: which optional fields follow, and the kind's own flags.
fn flags(event: &Event) -> u8 {
    let mut flags = 0;
    for (set, flag) in [
        (event.creds.is_some(), HAS_CREDS),
        (event.cgroup_id.is_some(), HAS_CGROUP),
        (event.kernel_thread, KERNEL_THREAD),
        (event.tid != event.pid, TID_DIFFERS),
    ] {
        if set {
            flags |= flag;
        }
    }
    match event.kind {
        Kind::Exec {
            argv_truncated,
            filename_truncated,
            argv_unreadable,
            ..
        } => {
            for (set, flag) in [
                (argv_truncated, ARGV_TRUNCATED),
                (filename_truncated, FILENAME_TRUNCATED),
                (argv_unreadable, ARGV_UNREADABLE),
            ] {
                if set {
                    flags |= flag;
                }
            }
        }
        Kind::Uid { inferred: true } | Kind::Gid { inferred: true } => flags |= INFERRED,
        _ => {}
    }
    flags
}

/// The second flags byte: the namespace fields that follow, and where the cgroup path is.
fn place_flags(event: &Event, frame: &FrameContext) -> u8 {
    let mut flags = 0;
    if let Some(ns) = event.pid_ns {
        flags |= HAS_PID_NS;
        if ns.pid != event.pid {
            flags |= NS_PID_DIFFERS;
        }
    }
    if let Some(path) = &event.cgroup {
        let given = event.cgroup_id.and_then(|id| frame.cgroups.get(&id));
        flags |= if given == Some(path) {
            CGROUP_PATH_AS_BEFORE
        } else {
            HAS_CGROUP_PATH
        };
    }
    if matches!(event.kind, Kind::Exit(_, Some(_))) {
        flags |= HAS_USAGE;
    }
    flags
}

/// An exit's usage: CPU times, peak memory, block I/O (each plus one, 0 for unknown) and
/// context switches.
fn encode_usage(usage: &Usage, out: &mut Vec<u8>) {
    for value in [
        usage.user_ns,
        usage.system_ns,
        usage.max_rss_bytes,
        usage.read_bytes.map_or(0, |b| b.saturating_add(1)),
        usage.write_bytes.map_or(0, |b| b.saturating_add(1)),
        usage.voluntary_switches,
        usage.involuntary_switches,
    ] {
        put_varint(out, value);
    }
}

fn decode_usage(r: &mut Cursor) -> Result<Usage, &'static str> {
    let known = |v: u64| v.checked_sub(1);
    Ok(Usage {
        user_ns: r.varint()?,
        system_ns: r.varint()?,
        max_rss_bytes: r.varint()?,
        read_bytes: known(r.varint()?),
        write_bytes: known(r.varint()?),
        voluntary_switches: r.varint()?,
        involuntary_switches: r.varint()?,
    })
}

fn encode_exit(status: ExitStatus, out: &mut Vec<u8>) {
    let (tag, value) = match status {
        ExitStatus::Code(code) => (EXIT_CODE, Some(code)),
        ExitStatus::Signal {
            signal,
            core_dumped: true,
        } => (EXIT_SIGNAL_CORE, Some(signal)),
        ExitStatus::Signal {
            signal,
            core_dumped: false,
        } => (EXIT_SIGNAL, Some(signal)),
        ExitStatus::Unknown => (EXIT_UNKNOWN, None),
    };
    out.push(tag);
    if let Some(value) = value {
        put_varint(out, zigzag(value.into()));
    }
}

/// Reads what [`encode`] wrote, in a file of format `version`. The error names what was
/// wrong; the caller adds where.
pub fn decode(
    input: &mut &[u8],
    frame: &mut FrameContext,
    version: u32,
) -> Result<Event, &'static str> {
    let mut r = Cursor(input);
    // An unknown kind is damage, but what is cut short is said first.
    let name = KindName::from_codec_tag(r.byte()?);
    let flags = r.byte()?;
    check_flags(name, flags, version)?;
    let place = if version >= 3 { r.byte()? } else { 0 };
    check_place_flags(place, flags)?;
    if version < 4 && (place & HAS_USAGE != 0 || name == Some(KindName::Sample)) {
        return Err("a sample or an exit's usage in a file older than format version 4");
    }
    if place & HAS_USAGE != 0 && name != Some(KindName::Exit) {
        return Err("usage on an event other than an exit");
    }
    let ts_ns = frame.prev_ts.wrapping_add(unzigzag(r.varint()?) as u64);
    frame.prev_ts = ts_ns;
    let pid = r.u32()?;
    let tid = if flags & TID_DIFFERS != 0 {
        r.u32()?
    } else {
        pid
    };
    let ppid = r.u32()?;
    let start_ns = ts_ns.wrapping_sub(unzigzag(r.varint()?) as u64);
    let comm_len = r.byte()? as usize;
    if comm_len > 15 {
        return Err("command name longer than 15 bytes");
    }
    let comm = Comm::from_bytes(r.take(comm_len)?);
    let creds = if flags & HAS_CREDS != 0 {
        Some(Creds {
            uid: r.u32()?,
            euid: r.u32()?,
            gid: r.u32()?,
            egid: r.u32()?,
        })
    } else {
        None
    };
    let cgroup_id = if flags & HAS_CGROUP != 0 {
        Some(r.varint()?)
    } else {
        None
    };
    let pid_ns = decode_pid_ns(&mut r, place, pid)?;
    let cgroup = decode_cgroup_path(&mut r, place, cgroup_id, frame)?;
    let kind = match name.ok_or("unknown event kind")? {
        KindName::Fork => Kind::Fork,
        KindName::ThreadStart => Kind::ThreadStart,
        KindName::Exec => decode_exec(&mut r, flags)?,
        KindName::Exit => decode_exit(&mut r, place)?,
        KindName::ThreadExit => Kind::ThreadExit,
        KindName::Uid => Kind::Uid {
            inferred: flags & INFERRED != 0,
        },
        KindName::Gid => Kind::Gid {
            inferred: flags & INFERRED != 0,
        },
        KindName::Lost => Kind::Lost { count: r.varint()? },
        KindName::Sample => decode_sample(&mut r)?,
    };
    Ok(Event {
        ts_ns,
        pid,
        tid,
        ppid,
        start_ns,
        comm,
        creds,
        cgroup_id,
        pid_ns,
        cgroup,
        kernel_thread: flags & KERNEL_THREAD != 0,
        kind,
    })
}

/// A record's PID namespace: its inode, and the pid there where it is not `pid`.
fn decode_pid_ns(
    r: &mut Cursor,
    place: u8,
    pid: u32,
) -> Result<Option<PidNamespace>, &'static str> {
    if place & HAS_PID_NS == 0 {
        return Ok(None);
    }
    let inode = r.u32()?;
    let pid = if place & NS_PID_DIFFERS != 0 {
        r.u32()?
    } else {
        pid
    };
    Ok(Some(PidNamespace { inode, pid }))
}

/// A record's cgroup path: given here, or as an earlier record of the frame gave it.
fn decode_cgroup_path(
    r: &mut Cursor,
    place: u8,
    cgroup_id: Option<u64>,
    frame: &mut FrameContext,
) -> Result<Option<CgroupPath>, &'static str> {
    if place & HAS_CGROUP_PATH != 0 {
        let path = CgroupPath::bounded(r.bytes()?).ok_or("a cgroup path longer than 4096 bytes")?;
        if let Some(id) = cgroup_id {
            frame.cgroups.insert(id, path.clone());
        }
        Ok(Some(path))
    } else if place & CGROUP_PATH_AS_BEFORE != 0 {
        cgroup_id
            .and_then(|id| frame.cgroups.get(&id).cloned())
            .map(Some)
            .ok_or("a cgroup path that no earlier record of the frame gave")
    } else {
        Ok(None)
    }
}

/// The second flags byte (version 3 on) holds no flag no writer sets, nor two that
/// contradict each other.
fn check_place_flags(place: u8, flags: u8) -> Result<(), &'static str> {
    if place & !PLACE_FLAGS != 0 {
        return Err("namespace flags that no writer sets");
    }
    if place & NS_PID_DIFFERS != 0 && place & HAS_PID_NS == 0 {
        return Err("a namespace pid without a namespace");
    }
    if place & HAS_CGROUP_PATH != 0 && place & CGROUP_PATH_AS_BEFORE != 0 {
        return Err("a cgroup path both given and as before");
    }
    if place & CGROUP_PATH_AS_BEFORE != 0 && flags & HAS_CGROUP == 0 {
        return Err("a cgroup path as before without a cgroup id");
    }
    Ok(())
}

/// A flag the file's version does not have, or that belongs to another kind, is damage: no
/// writer sets one.
fn check_flags(name: Option<KindName>, flags: u8, version: u32) -> Result<(), &'static str> {
    if version < 2 && flags & !VERSION_1_FLAGS != 0 {
        return Err("flags that format version 1 does not have");
    }
    if name != Some(KindName::Exec) && flags & EXEC_FLAGS != 0 {
        return Err("an exec's flags on another kind of event");
    }
    if !matches!(name, Some(KindName::Uid | KindName::Gid)) && flags & INFERRED != 0 {
        return Err("the inferred flag on an event other than a uid or gid change");
    }
    Ok(())
}

/// An exec's own fields: its file name and arguments.
fn decode_exec(r: &mut Cursor, flags: u8) -> Result<Kind, &'static str> {
    let filename = ByteString::new(r.bytes()?);
    let argc = r.varint()?;
    // Each argument takes at least one byte, which bounds the allocation.
    if argc > r.0.len() as u64 {
        return Err("argument count larger than the record");
    }
    // A first pass checks the arguments and sizes the buffer, so that the argv is one
    // allocation of the exact size, taken as it is.
    let mut ahead: &[u8] = r.0;
    let mut size = 0;
    for _ in 0..argc {
        let arg = Cursor(&mut ahead).bytes()?;
        if arg.contains(&0) {
            return Err("argument holds a NUL byte");
        }
        size += arg.len() + 1;
    }
    let mut area = Vec::with_capacity(size);
    for _ in 0..argc {
        area.extend_from_slice(r.bytes()?);
        area.push(0);
    }
    Ok(Kind::Exec {
        filename,
        argv: Argv::from_vec(area),
        argv_truncated: flags & ARGV_TRUNCATED != 0,
        filename_truncated: flags & FILENAME_TRUNCATED != 0,
        argv_unreadable: flags & ARGV_UNREADABLE != 0,
    })
}

/// An exit: its status, and its usage with place flag [`HAS_USAGE`].
fn decode_exit(r: &mut Cursor, place: u8) -> Result<Kind, &'static str> {
    let status = decode_status(r)?;
    let usage = if place & HAS_USAGE != 0 {
        Some(Box::new(decode_usage(r)?))
    } else {
        None
    };
    Ok(Kind::Exit(status, usage))
}

fn decode_sample(r: &mut Cursor) -> Result<Kind, &'static str> {
    Ok(Kind::Sample(Sample {
        cpu_ns: r.varint()?,
        rss_bytes: r.varint()?,
        state: State::from_letter(r.byte()?),
        threads: r.u32()?,
    }))
}

/// An exit's status: how it ended, then the code or signal.
fn decode_status(r: &mut Cursor) -> Result<ExitStatus, &'static str> {
    let how = r.byte()?;
    let mut value = || i32::try_from(unzigzag(r.varint()?)).map_err(|_| "exit status out of range");
    Ok(match how {
        EXIT_CODE => ExitStatus::Code(value()?),
        EXIT_SIGNAL | EXIT_SIGNAL_CORE => ExitStatus::Signal {
            signal: value()?,
            core_dumped: how == EXIT_SIGNAL_CORE,
        },
        EXIT_UNKNOWN => ExitStatus::Unknown,
        _ => return Err("unknown exit status form"),
    })
}

struct Cursor<'a, 'b>(&'a mut &'b [u8]);

impl<'b> Cursor<'_, 'b> {
    fn byte(&mut self) -> Result<u8, &'static str> {
        let (&b, rest) = self.0.split_first().ok_or("record cut short")?;
        *self.0 = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'b [u8], &'static str> {
        if n > self.0.len() {
            return Err("record cut short");
        }
        let (head, rest) = self.0.split_at(n);
        *self.0 = rest;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("number longer than 64 bits")
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        u32::try_from(self.varint()?).map_err(|_| "id larger than 32 bits")
    }

    /// A varint length and that many bytes: a file name or an argument, not always UTF-8.
    fn bytes(&mut self) -> Result<&'b [u8], &'static str> {
        let len = usize::try_from(self.varint()?).map_err(|_| "string length out of range")?;
        self.take(len)
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
pub(crate) mod tests;
