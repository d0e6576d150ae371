//! Reading a recording back. Every frame is checked before it is used; the first damaged
//! one stops the reading with its byte offset, and [`Reader::resync`] can go on from the
//! next intact frame, which works because each frame decodes on its own (the search for
//! it is in `resync`).

use std::{
    fmt,
    fs::File,
    io::{self, BufReader, Cursor, Read, Seek, SeekFrom},
    path::Path,
    sync::Arc,
};

use super::{
    End, FILE_HEADER_LEN, FORMAT_VERSION, Info, MAGIC,
    budget::{self, Budget},
    codec,
    frame::{self, FrameDecoder, FrameKind, Header},
};
use crate::{
    event::{Argv, ByteString, Event, Kind, MAX_ARGV_BYTES, MAX_FILENAME_BYTES, host},
    proc::snapshot::ProcessInfo,
    text,
};

mod extent;
mod follow;
mod keyframes;
mod resync;

pub use resync::Resync;
use resync::Window;

/// Where a recording stops being readable, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset of the damaged frame (or of the damaged part of the file header).
    pub offset: u64,
    pub problem: String,
}

impl Damage {
    fn new(offset: u64, problem: impl Into<String>) -> Self {
        Self {
            offset,
            problem: problem.into(),
        }
    }

    fn truncated(offset: u64) -> Self {
        Self::new(
            offset,
            "the file ends inside a frame (was the recorder stopped abruptly, or the disk full?)",
        )
    }
}

impl fmt::Display for Damage {
    /// The problem [escaped](text::escape): a decoder's message may quote the file.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = text::escape_str(&self.problem);
        write!(f, "damaged at byte {}: {problem}", self.offset)
    }
}

impl std::error::Error for Damage {}

/// Why a file cannot be replayed at all.
#[derive(Debug)]
pub enum OpenError {
    NotARecording {
        hint: &'static str,
    },
    /// Written by a newer forkwatch, in this format version.
    NewerVersion(u32),
    /// The file header, info or snapshot is damaged: there is nothing to replay.
    Damaged(Damage),
    Io(io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotARecording { hint } => write!(f, "not a forkwatch recording{hint}"),
            Self::NewerVersion(v) => write!(
                f,
                "written by a newer forkwatch (recording format {v}; this one reads up to \
                 {FORMAT_VERSION}): replay it with a newer forkwatch-tui"
            ),
            Self::Damaged(damage) => damage.fmt(f),
            Self::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<Damage> for OpenError {
    fn from(damage: Damage) -> Self {
        Self::Damaged(damage)
    }
}

/// The times and size of a recording's events, from its frame headers alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    pub events: u64,
    /// The last event's time, or the end frame's if there is one.
    pub end_ns: u64,
}

enum Frame {
    Read(Header),
    EndOfFile,
}

/// What a recording is read from.
pub trait Input: Read + Seek {
    /// Its size now. The default seeks to the end and back, which makes a buffered input
    /// throw away what it holds: an input that can tell it otherwise should.
    fn size(&mut self) -> io::Result<u64> {
        let here = self.stream_position()?;
        let len = self.seek(SeekFrom::End(0))?;
        self.seek(SeekFrom::Start(here))?;
        Ok(len)
    }
}

impl Input for File {
    fn size(&mut self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

/// Asks what it reads from, whose position it leaves as it was: the buffer stays.
impl<R: Input> Input for BufReader<R> {
    fn size(&mut self) -> io::Result<u64> {
        self.get_mut().size()
    }
}

impl<T: AsRef<[u8]>> Input for Cursor<T> {
    fn size(&mut self) -> io::Result<u64> {
        Ok(self.get_ref().as_ref().len() as u64)
    }
}

/// Reads a recording from the start: [`info`](Reader::info) and
/// [`snapshot`](Reader::snapshot) right away, then events frame by frame.
pub struct Reader<R> {
    input: R,
    /// Offset of the next frame.
    offset: u64,
    version: u32,
    /// The file's size when last measured, which the budget is proportional to.
    file_len: u64,
    budget: Budget,
    /// What reading the info and the snapshot spent: every pass starts with it, as the
    /// snapshot stays in memory.
    opening: Budget,
    window: Window,
    info: Info,
    /// Shared with whoever starts again from it (a replay's seek back), not copied.
    snapshot: Arc<[ProcessInfo]>,
    /// Offset of the first frame after the snapshot.
    events_offset: u64,
    end: Option<End>,
    /// Where each keyframe starts, with its time, in file order, and the events the
    /// frame headers count; found by `extent`.
    pub(in crate::recording) keyframes: Vec<(u64, u64)>,
    events_total: u64,
    /// How far `extent` has read the frame headers.
    scan: extent::Scan,
    /// The recording may still grow (see [`crate::recording::stream`]): its end, and a
    /// frame cut there, are "not yet".
    follow: bool,
    /// Reading stopped at a frame cut by the end of what has arrived.
    cut: bool,
    finished: bool,
    damage: Option<Damage>,
    decoder: FrameDecoder,
    payload: Vec<u8>,
    content: Vec<u8>,
}

impl Reader<BufReader<File>> {
    /// Opens the recording at `path` as forkwatch runs; a command that reads a file
    /// someone else may have written opens it with [`crate::recording::open`], which first
    /// gives up its privileges.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        Self::from_file(File::open(path).map_err(OpenError::Io)?)
    }

    pub fn from_file(file: File) -> Result<Self, OpenError> {
        Self::new(BufReader::with_capacity(256 * 1024, file))
    }
}

impl<R: Input> Reader<R> {
    /// Reads the file header, the info and the snapshot.
    pub fn new(mut input: R) -> Result<Self, OpenError> {
        let mut head = [0; FILE_HEADER_LEN];
        let n = read_full(&mut input, &mut head).map_err(OpenError::Io)?;
        let magic_len = n.min(MAGIC.len());
        if n == 0 {
            return Err(OpenError::NotARecording {
                hint: " (the file is empty)",
            });
        }
        if head[..magic_len] != MAGIC[..magic_len] {
            let hint = if head[0] == b'{' {
                " (it looks like JSON lines, such as `events --json` prints)"
            } else if head[..n]
                .iter()
                .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
            {
                " (it is text)"
            } else {
                ""
            };
            return Err(OpenError::NotARecording { hint });
        }
        if n < FILE_HEADER_LEN {
            return Err(Damage::new(0, "the file ends inside its header").into());
        }
        let version = u32::from_le_bytes(head[8..12].try_into().unwrap());
        if version > FORMAT_VERSION {
            return Err(OpenError::NewerVersion(version));
        }
        if version == 0 {
            return Err(Damage::new(8, "format version 0 does not exist").into());
        }
        let file_len = input.size().map_err(OpenError::Io)?;
        let mut reader = Self {
            input,
            offset: FILE_HEADER_LEN as u64,
            version,
            file_len,
            budget: Budget::default(),
            opening: Budget::default(),
            window: Window::default(),
            info: Info::default(),
            snapshot: Arc::default(),
            events_offset: 0,
            end: None,
            keyframes: Vec::new(),
            events_total: 0,
            scan: extent::Scan::default(),
            follow: false,
            cut: false,
            finished: false,
            damage: None,
            decoder: FrameDecoder::new().map_err(OpenError::Io)?,
            payload: Vec::new(),
            content: Vec::new(),
        };
        reader.read_info_and_snapshot()?;
        reader.events_offset = reader.offset;
        reader.opening = reader.budget.clone();
        Ok(reader)
    }

    /// Reads the info frame and the snapshot frames its count says there are.
    fn read_info_and_snapshot(&mut self) -> Result<(), OpenError> {
        let at = self.offset;
        let processes = match self.read_frame(true)? {
            Frame::Read(h) if h.kind() == Some(FrameKind::Info) => {
                self.info = serde_json::from_slice(&self.content)
                    .map_err(|e| Damage::new(at, format!("unreadable info frame: {e}")))?;
                let count = budget::snapshot_count(h.count);
                let count = count.and_then(|count| {
                    self.charge(|b, len| b.charge_records(count as u64, len))
                        .map(|()| count)
                });
                count.map_err(|problem| Damage::new(at, problem))?
            }
            Frame::Read(_) => return Err(Damage::new(at, "the first frame is not the info").into()),
            Frame::EndOfFile => {
                return Err(Damage::new(at, "the file ends before the recording's info").into());
            }
        };
        let mut snapshot = Vec::new();
        while snapshot.len() < processes {
            let at = self.offset;
            let damaged = |problem| OpenError::from(Damage::new(at, problem));
            match self.read_frame(true)? {
                Frame::Read(h) if h.kind() == Some(FrameKind::Snapshot) => {
                    let mut part: Vec<ProcessInfo> = serde_json::from_slice(&self.content)
                        .map_err(|e| damaged(format!("unreadable snapshot: {e}")))?;
                    if part.len() != h.count as usize || snapshot.len() + part.len() > processes {
                        return Err(damaged("snapshot frame has a wrong count".into()));
                    }
                    for process in &mut part {
                        self.check_pids(&[process.pid, process.ppid])
                            .map_err(damaged)?;
                        keep_argv_within_cap(
                            self.version,
                            &mut process.argv,
                            &mut process.argv_truncated,
                        )
                        .map_err(damaged)?;
                    }
                    snapshot.extend(part);
                }
                Frame::Read(_) => return Err(damaged("the snapshot is incomplete".into())),
                Frame::EndOfFile => {
                    return Err(damaged("the file ends inside the snapshot".into()));
                }
            }
        }
        self.snapshot = snapshot.into();
        Ok(())
    }

    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The processes running when the recording started.
    pub fn snapshot(&self) -> &[ProcessInfo] {
        &self.snapshot
    }

    /// The same, shared rather than copied.
    pub fn shared_snapshot(&self) -> Arc<[ProcessInfo]> {
        Arc::clone(&self.snapshot)
    }

    /// The end frame: known once reading got there, absent if the recording was not
    /// closed properly (the recorder was killed, or the file was cut at a frame boundary).
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// Offset of the next frame to read.
    #[cfg(test)]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Appends the next frame's events to `out`. `Ok(false)` at the end of the recording;
    /// a damaged frame is an error, again on every call until [`resync`](Self::resync).
    pub fn next_batch(&mut self, out: &mut Vec<Event>) -> Result<bool, Damage> {
        if let Some(damage) = &self.damage {
            return Err(damage.clone());
        }
        while !self.finished {
            let at = self.offset;
            let frame = self
                .read_frame(false)
                .inspect_err(|damage| self.damage = Some(damage.clone()))?;
            let header = match frame {
                Frame::Read(header) => header,
                Frame::EndOfFile => {
                    self.finished = !self.follow;
                    return Ok(false);
                }
            };
            let result = match header.kind() {
                Some(FrameKind::Events) => self.decode_events(&header, out).map(|()| true),
                Some(FrameKind::End) => match serde_json::from_slice(&self.content) {
                    Ok(end) => {
                        self.end = Some(end);
                        self.finished = true;
                        Ok(false)
                    }
                    Err(e) => Err(format!("unreadable end frame: {e}")),
                },
                Some(FrameKind::Info | FrameKind::Snapshot) => {
                    Err("an info or snapshot frame among the events".into())
                }
                // It repeats what the events before it said.
                Some(FrameKind::Keyframe) => continue,
                None if header.raw_kind >= FrameKind::FIRST_OPTIONAL => continue,
                None => Err(format!("unknown frame type {}", header.raw_kind)),
            };
            return result.map_err(|problem| {
                let damage = Damage::new(at, problem);
                self.damage = Some(damage.clone());
                damage
            });
        }
        Ok(false)
    }

    /// Goes back to the first event.
    pub fn rewind(&mut self) -> io::Result<()> {
        self.damage = None;
        self.end = None;
        self.cut = false;
        self.finished = false;
        // A new pass, with a new budget that still holds the snapshot; the file may have
        // grown since the last.
        self.budget = self.opening.clone();
        self.window = Window::default();
        self.seek(self.events_offset)
    }

    fn decode_events(&mut self, header: &Header, out: &mut Vec<Event>) -> Result<(), String> {
        let count = header.count as usize;
        let len = self.content.len();
        if count > len / codec::MIN_RECORD_LEN {
            return Err(format!("the frame claims {count} events in {len} bytes"));
        }
        self.charge(|b, file_len| b.charge_records(count as u64, file_len))?;
        let before = out.len();
        match self.decode_records(count, out) {
            Ok(lost) => {
                self.budget.set_lost(lost);
                Ok(())
            }
            Err(problem) => {
                out.truncate(before);
                Err(problem)
            }
        }
    }

    /// Appends the `count` events of `self.content` to `out`; returns the loss counts' sum
    /// with theirs.
    fn decode_records(&self, count: usize, out: &mut Vec<Event>) -> Result<u64, String> {
        let different = || "events frame holds a different number of events than it says";
        let mut input = &self.content[..];
        let mut frame = codec::FrameContext::default();
        let mut lost = self.budget.lost();
        for _ in 0..count {
            if input.is_empty() {
                return Err(different().into());
            }
            let mut event = codec::decode(&mut input, &mut frame, self.version)
                .map_err(|problem| format!("undecodable event: {problem}"))?;
            match &mut event.kind {
                Kind::Exec {
                    argv,
                    argv_truncated,
                    filename,
                    filename_truncated,
                    ..
                } => {
                    keep_argv_within_cap(self.version, argv, argv_truncated)?;
                    keep_filename_within_cap(self.version, filename, filename_truncated)?;
                }
                Kind::Lost { count } => {
                    lost = (lost.checked_add(*count))
                        .ok_or("the loss counts add up to more than 2^64 events")?;
                }
                _ => {}
            }
            self.check_pids(&[event.pid, event.tid, event.ppid])?;
            out.push(event);
        }
        if !input.is_empty() {
            return Err(different().into());
        }
        Ok(lost)
    }

    /// A pid above any a kernel gives is damage (`PID_MAX_LIMIT` itself passes, as it
    /// always did: the model and the Perfetto export skip it), and so is one of a host a
    /// merge of several recordings does not name ([`crate::event::host`]): the model keeps
    /// a table by pid for each host, which such pids would make a file of a few bytes cost
    /// gigabytes.
    pub(in crate::recording) fn check_pids(&self, pids: &[u32]) -> Result<(), String> {
        let hosts = self.info.hosts.len();
        let bad = pids.iter().find(|&&pid| match host::host_pid(pid) {
            (None, pid) => hosts > 0 && pid != 0,
            (Some(0), 0) if hosts == 0 => false,
            (Some(host), _) => host >= hosts,
        });
        match bad {
            Some(pid) if hosts == 0 => Err(format!("pid {pid}, which no kernel gives")),
            Some(pid) => Err(format!(
                "pid {pid}, of none of the recording's {hosts} hosts"
            )),
            None => Ok(()),
        }
    }

    /// Reads the frame at `self.offset` into `self.content` and moves past it; on damage
    /// the offset stays at the frame. An optional frame is checked (its type byte is only
    /// known to be right once its checksum holds) but decompressed only if
    /// `decode_optional`.
    fn read_frame(&mut self, decode_optional: bool) -> Result<Frame, Damage> {
        let at = self.offset;
        let unreadable = |e: io::Error| Damage::new(at, format!("cannot read: {e}"));
        self.cut = false;
        let mut bytes = [0; frame::HEADER_LEN];
        match read_full(&mut self.input, &mut bytes).map_err(unreadable)? {
            0 => return Ok(Frame::EndOfFile),
            n if n < frame::HEADER_LEN => return self.cut_at_end(at),
            _ => {}
        }
        let header = Header::parse(&bytes).map_err(|problem| Damage::new(at, problem))?;
        let end = at + frame::HEADER_LEN as u64 + u64::from(header.stored_len);
        // Nothing is allocated for a payload the file cannot hold.
        if end > self.file_len && end > self.measure().map_err(unreadable)? {
            return self.cut_at_end(at);
        }
        self.payload.resize(header.stored_len as usize, 0);
        if read_full(&mut self.input, &mut self.payload).map_err(unreadable)? < self.payload.len() {
            return self.cut_at_end(at);
        }
        if !header.checks(&self.payload) {
            return Err(Damage::new(at, "checksum mismatch"));
        }
        if header.raw_kind >= FrameKind::FIRST_OPTIONAL && !decode_optional {
            self.content.clear();
            self.offset = end;
            return Ok(Frame::Read(header));
        }
        self.charge(|b, len| b.charge_content(header.content_len.into(), len))
            .map_err(|problem| Damage::new(at, problem))?;
        self.decoder
            .decode(&header, &self.payload, &mut self.content)
            .map_err(|problem| Damage::new(at, problem))?;
        self.offset = end;
        Ok(Frame::Read(header))
    }

    /// Charges the budget. The file may have grown since it was measured (a recording
    /// still being written), so it is measured again before that is damage.
    fn charge(
        &mut self,
        charge: impl Fn(&mut Budget, u64) -> Result<(), String>,
    ) -> Result<(), String> {
        if charge(&mut self.budget, self.file_len).is_ok() {
            return Ok(());
        }
        // On failure the old size stands.
        let _ = self.measure();
        charge(&mut self.budget, self.file_len)
    }

    /// The file's size now; the position, and what a buffer holds, stay.
    fn measure(&mut self) -> io::Result<u64> {
        self.file_len = self.input.size()?;
        Ok(self.file_len)
    }

    fn seek(&mut self, offset: u64) -> io::Result<()> {
        // Relative: a buffered input keeps what it holds when the target is in it, so the
        // many short moves of a search after damage read nothing twice.
        let here = self.input.stream_position()?;
        self.input.seek_relative(offset as i64 - here as i64)?;
        self.offset = offset;
        Ok(())
    }
}

/// An argv longer than any source records is damage in a version 2 file. Version 1
/// recorders kept whole /proc command lines, so there it is cut where version 2 would
/// have cut it.
fn keep_argv_within_cap(version: u32, argv: &mut Argv, truncated: &mut bool) -> Result<(), String> {
    // Every argument ends with a NUL, a cut one too.
    if argv.byte_len() <= MAX_ARGV_BYTES + 1 {
        return Ok(());
    }
    if version >= 2 {
        return Err(format!(
            "a command line of {} bytes, more than the {MAX_ARGV_BYTES} any source records",
            argv.byte_len()
        ));
    }
    *argv = Argv::from_area(&argv.as_bytes()[..MAX_ARGV_BYTES]);
    *truncated = true;
    Ok(())
}

/// The same for an exec's file name, cut at [`MAX_FILENAME_BYTES`].
fn keep_filename_within_cap(
    version: u32,
    filename: &mut ByteString,
    truncated: &mut bool,
) -> Result<(), String> {
    let Some(cut) = filename.cut(MAX_FILENAME_BYTES) else {
        return Ok(());
    };
    if version >= 2 {
        return Err(format!(
            "a file name of {} bytes, more than the {MAX_FILENAME_BYTES} any source records",
            filename.len()
        ));
    }
    *filename = cut;
    *truncated = true;
    Ok(())
}

/// Reads until `buf` is full or the input ends; returns how much was read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
