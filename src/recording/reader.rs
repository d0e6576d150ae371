//! Reading a recording back. Every frame is checked before it is used; the first damaged
//! one stops the reading with its byte offset, and [`Reader::resync`] can go on from the
//! next intact frame, which works because each frame decodes on its own.

use std::{
    fmt,
    fs::File,
    io::{self, BufReader, Read, Seek, SeekFrom},
    path::Path,
};

use super::{
    End, FILE_HEADER_LEN, FORMAT_VERSION, Info, MAGIC, codec,
    frame::{self, FrameDecoder, FrameKind, Header},
};
use crate::{event::Event, snapshot::ProcessInfo, text};

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

/// Reads a recording from the start: [`info`](Reader::info) and
/// [`snapshot`](Reader::snapshot) right away, then events frame by frame.
pub struct Reader<R> {
    input: R,
    /// Offset of the next frame.
    offset: u64,
    info: Info,
    snapshot: Vec<ProcessInfo>,
    /// Offset of the first frame after the snapshot.
    events_offset: u64,
    end: Option<End>,
    finished: bool,
    damage: Option<Damage>,
    decoder: FrameDecoder,
    payload: Vec<u8>,
    content: Vec<u8>,
}

impl Reader<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        Self::new(BufReader::with_capacity(
            256 * 1024,
            File::open(path).map_err(OpenError::Io)?,
        ))
    }
}

impl<R: Read + Seek> Reader<R> {
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
        let mut reader = Self {
            input,
            offset: FILE_HEADER_LEN as u64,
            info: Info::default(),
            snapshot: Vec::new(),
            events_offset: 0,
            end: None,
            finished: false,
            damage: None,
            decoder: FrameDecoder::new().map_err(OpenError::Io)?,
            payload: Vec::new(),
            content: Vec::new(),
        };
        let at = reader.offset;
        let processes = match reader.read_frame()? {
            Frame::Read(h) if h.kind() == Some(FrameKind::Info) => {
                reader.info = serde_json::from_slice(&reader.content)
                    .map_err(|e| Damage::new(at, format!("unreadable info frame: {e}")))?;
                h.count as usize
            }
            Frame::Read(_) => return Err(Damage::new(at, "the first frame is not the info").into()),
            Frame::EndOfFile => {
                return Err(Damage::new(at, "the file ends before the recording's info").into());
            }
        };
        while reader.snapshot.len() < processes {
            let at = reader.offset;
            match reader.read_frame()? {
                Frame::Read(h) if h.kind() == Some(FrameKind::Snapshot) => {
                    let part: Vec<ProcessInfo> = serde_json::from_slice(&reader.content)
                        .map_err(|e| Damage::new(at, format!("unreadable snapshot: {e}")))?;
                    if part.len() != h.count as usize
                        || reader.snapshot.len() + part.len() > processes
                    {
                        return Err(Damage::new(at, "snapshot frame has a wrong count").into());
                    }
                    reader.snapshot.extend(part);
                }
                Frame::Read(_) => return Err(Damage::new(at, "the snapshot is incomplete").into()),
                Frame::EndOfFile => {
                    return Err(Damage::new(at, "the file ends inside the snapshot").into());
                }
            }
        }
        reader.events_offset = reader.offset;
        Ok(reader)
    }

    pub fn info(&self) -> &Info {
        &self.info
    }

    /// The processes running when the recording started.
    pub fn snapshot(&self) -> &[ProcessInfo] {
        &self.snapshot
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
                .read_frame()
                .inspect_err(|damage| self.damage = Some(damage.clone()))?;
            let header = match frame {
                Frame::Read(header) => header,
                Frame::EndOfFile => break,
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
                None if header.raw_kind >= FrameKind::FIRST_OPTIONAL => continue,
                None => Err(format!("unknown frame type {}", header.raw_kind)),
            };
            return result.map_err(|problem| {
                let damage = Damage::new(at, problem);
                self.damage = Some(damage.clone());
                damage
            });
        }
        self.finished = true;
        Ok(false)
    }

    /// After damage, finds the next intact frame and continues from it. Returns its
    /// offset, or `None` if nothing intact follows (reading is then over).
    pub fn resync(&mut self) -> Option<u64> {
        let damage = self.damage.take()?;
        let mut pos = damage.offset + 1;
        let mut chunk = vec![0; 64 * 1024];
        loop {
            let n = self
                .seek(pos)
                .and_then(|()| read_full(&mut self.input, &mut chunk))
                .unwrap_or(0);
            if n < frame::MARKER.len() {
                self.finished = true;
                return None;
            }
            let candidates: Vec<u64> = chunk[..n]
                .windows(frame::MARKER.len())
                .enumerate()
                .filter(|(_, w)| *w == frame::MARKER)
                .map(|(i, _)| pos + i as u64)
                .collect();
            for candidate in candidates {
                if self.seek(candidate).is_ok()
                    && matches!(self.read_frame(), Ok(Frame::Read(h)) if h.kind() != Some(FrameKind::Info))
                    && self.seek(candidate).is_ok()
                {
                    return Some(candidate);
                }
            }
            pos += (n - (frame::MARKER.len() - 1)) as u64;
        }
    }

    /// Goes back to the first event.
    pub fn rewind(&mut self) -> io::Result<()> {
        self.damage = None;
        self.end = None;
        self.finished = false;
        self.seek(self.events_offset)
    }

    /// The number of events and the last time, from the frame headers that follow the
    /// snapshot (payloads are skipped, not checked). Leaves the position as it was.
    pub fn extent(&mut self) -> io::Result<Extent> {
        let resume = self.offset;
        let mut extent = Extent {
            events: 0,
            end_ns: self.info.start_ns,
        };
        // Forward from header to header: a buffered input keeps what it read of the file
        // when the skip lands inside its buffer, where a seek would throw it away.
        self.seek(self.events_offset)?;
        loop {
            let mut bytes = [0; frame::HEADER_LEN];
            if read_full(&mut self.input, &mut bytes)? < frame::HEADER_LEN {
                break;
            }
            let Ok(header) = Header::parse(&bytes) else {
                break;
            };
            match header.kind() {
                Some(FrameKind::Events) => {
                    extent.events += u64::from(header.count);
                    extent.end_ns = extent.end_ns.max(header.max_ts);
                }
                Some(FrameKind::End) => {
                    extent.end_ns = extent.end_ns.max(header.max_ts);
                    break;
                }
                _ => {}
            }
            self.input.seek_relative(i64::from(header.stored_len))?;
        }
        self.seek(resume)?;
        Ok(extent)
    }

    fn decode_events(&mut self, header: &Header, out: &mut Vec<Event>) -> Result<(), String> {
        let before = out.len();
        let mut input = &self.content[..];
        let mut prev_ts = 0;
        while !input.is_empty() {
            match codec::decode(&mut input, &mut prev_ts) {
                Ok(event) => out.push(event),
                Err(problem) => {
                    out.truncate(before);
                    return Err(format!("undecodable event: {problem}"));
                }
            }
        }
        if out.len() - before != header.count as usize {
            out.truncate(before);
            return Err("events frame holds a different number of events than it says".into());
        }
        Ok(())
    }

    /// Reads the frame at `self.offset` into `self.content` and moves past it; on damage
    /// the offset stays at the frame.
    fn read_frame(&mut self) -> Result<Frame, Damage> {
        let at = self.offset;
        let unreadable = |e: io::Error| Damage::new(at, format!("cannot read: {e}"));
        let mut bytes = [0; frame::HEADER_LEN];
        match read_full(&mut self.input, &mut bytes).map_err(unreadable)? {
            0 => return Ok(Frame::EndOfFile),
            n if n < frame::HEADER_LEN => return Err(Damage::truncated(at)),
            _ => {}
        }
        let header = Header::parse(&bytes).map_err(|problem| Damage::new(at, problem))?;
        self.payload.resize(header.stored_len as usize, 0);
        if read_full(&mut self.input, &mut self.payload).map_err(unreadable)? < self.payload.len() {
            return Err(Damage::truncated(at));
        }
        if !header.checks(&self.payload) {
            return Err(Damage::new(at, "checksum mismatch"));
        }
        self.decoder
            .decode(&header, &self.payload, &mut self.content)
            .map_err(|problem| Damage::new(at, problem))?;
        self.offset = at + frame::HEADER_LEN as u64 + u64::from(header.stored_len);
        Ok(Frame::Read(header))
    }

    fn seek(&mut self, offset: u64) -> io::Result<()> {
        self.input.seek(SeekFrom::Start(offset))?;
        self.offset = offset;
        Ok(())
    }
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
