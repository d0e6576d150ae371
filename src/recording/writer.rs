//! Writing the format: the file header, the info and snapshot frames, event frames, and the
//! end frame. Every frame goes out with one `write_all`, so a file cut anywhere holds every
//! frame before the cut intact.

use std::{
    borrow::Cow,
    io::{self, Write},
};

use super::{
    Alive, End, FILE_HEADER_LEN, FORMAT_VERSION, Info, KeyframeHead, MAGIC, codec,
    frame::{FrameEncoder, FrameKind},
};
use crate::{
    event::{Event, Kind, MAX_ARGV_BYTES, MAX_FILENAME_BYTES, Tally},
    proc::snapshot::ProcessInfo,
};

/// Event frames are cut at this much uncompressed content: large enough for zstd to find
/// the repetition between events, small enough that a frame stays a fraction of a second
/// of a busy machine.
pub const FRAME_CONTENT_BYTES: usize = 256 * 1024;
/// Snapshot frames are cut before they pass this much JSON (a frame holds one process at
/// least, which [`MAX_ARGV_BYTES`] keeps far below it).
const SNAPSHOT_FRAME_BYTES: usize = 1024 * 1024;

/// Whether an exec holds more argv or more file name than a live source gives
/// ([`Event::cap`]); each on its own, as a reader checks them.
fn over_a_cap(event: &Event) -> bool {
    match &event.kind {
        // A cut argv ends with its last argument's NUL.
        Kind::Exec { filename, argv, .. } => {
            argv.byte_len() > MAX_ARGV_BYTES + 1 || filename.len() > MAX_FILENAME_BYTES
        }
        _ => false,
    }
}

/// The process as a live snapshot gives it: its argv cut at [`MAX_ARGV_BYTES`].
fn capped(process: &ProcessInfo) -> Cow<'_, ProcessInfo> {
    match process.argv.cut(MAX_ARGV_BYTES) {
        Some(argv) => Cow::Owned(ProcessInfo {
            argv,
            argv_truncated: true,
            ..process.clone()
        }),
        None => Cow::Borrowed(process),
    }
}

/// `processes` as JSON arrays of at most [`SNAPSHOT_FRAME_BYTES`] (one process at least),
/// each with its count: the snapshot's frames, and a keyframe's parts.
fn json_chunks(processes: &[ProcessInfo]) -> io::Result<Vec<(u32, Vec<u8>)>> {
    let mut chunks = Vec::new();
    let mut chunk = Vec::new();
    let mut in_chunk = 0;
    let mut json = Vec::new();
    for process in processes {
        json.clear();
        serde_json::to_writer(&mut json, &capped(process))?;
        // Added, it would bring a comma, and the frame its closing bracket.
        if in_chunk > 0 && chunk.len() + 1 + json.len() + 1 > SNAPSHOT_FRAME_BYTES {
            chunk.push(b']');
            chunks.push((in_chunk, std::mem::take(&mut chunk)));
            in_chunk = 0;
        }
        chunk.push(if in_chunk == 0 { b'[' } else { b',' });
        chunk.extend_from_slice(&json);
        in_chunk += 1;
    }
    if in_chunk > 0 {
        chunk.push(b']');
        chunks.push((in_chunk, chunk));
    }
    Ok(chunks)
}

/// Writes one recording to `out`.
pub struct Writer<W: Write> {
    out: W,
    frames: FrameEncoder,
    /// The events frame being built, uncompressed.
    content: Vec<u8>,
    count: u32,
    context: codec::FrameContext,
    min_ts: u64,
    max_ts: u64,
    frame: Vec<u8>,
    /// Bytes of complete frames in `out`: what a reader gets back.
    written: u64,
    /// Events in complete frames.
    tally: Tally,
    /// Events pushed so far (the frame being built included).
    pushed: Tally,
    /// Event records in complete frames, loss reports included.
    records: u64,
}

impl<W: Write> Writer<W> {
    /// Writes the file header, `info` and `snapshot`.
    pub fn new(mut out: W, info: &Info, snapshot: &[ProcessInfo]) -> io::Result<Self> {
        let mut header = [0; FILE_HEADER_LEN];
        header[..8].copy_from_slice(&MAGIC);
        header[8..].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.write_all(&header)?;
        let mut writer = Self {
            out,
            frames: FrameEncoder::new()?,
            content: Vec::with_capacity(FRAME_CONTENT_BYTES + 4096),
            count: 0,
            context: codec::FrameContext::default(),
            min_ts: u64::MAX,
            max_ts: 0,
            frame: Vec::new(),
            written: FILE_HEADER_LEN as u64,
            tally: Tally::default(),
            pushed: Tally::default(),
            records: 0,
        };
        let times = (info.start_ns, info.start_ns);
        // The info frame's count is the snapshot's size, so a reader knows it has it all.
        let processes = u32::try_from(snapshot.len()).map_err(io::Error::other)?;
        writer.write_json_frame(FrameKind::Info, processes, times, info)?;
        for (count, chunk) in json_chunks(snapshot)? {
            writer.write_frame(FrameKind::Snapshot, count, times, &chunk)?;
        }
        Ok(writer)
    }

    /// Adds an event to the frame being built, and writes the frame once it is full. An
    /// exec with more argv or file name than any live source gives is cut as they cut it.
    pub fn push(&mut self, event: &Event) -> io::Result<()> {
        if over_a_cap(event) {
            let mut cut = event.clone();
            cut.cap();
            codec::encode(&cut, &mut self.context, &mut self.content);
        } else {
            codec::encode(event, &mut self.context, &mut self.content);
        }
        self.count += 1;
        self.min_ts = self.min_ts.min(event.ts_ns);
        self.max_ts = self.max_ts.max(event.ts_ns);
        self.pushed.add(event);
        if self.content.len() >= FRAME_CONTENT_BYTES {
            self.write_events()?;
        }
        Ok(())
    }

    /// Events pushed but not yet written.
    pub fn pending(&self) -> u32 {
        self.count
    }

    /// Writes the frame being built, if it holds anything.
    pub fn write_events(&mut self) -> io::Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        let content = std::mem::take(&mut self.content);
        let result = self.write_frame(
            FrameKind::Events,
            self.count,
            (self.min_ts, self.max_ts),
            &content,
        );
        self.content = content;
        result?;
        self.content.clear();
        self.records += u64::from(self.count);
        self.count = 0;
        self.context = codec::FrameContext::default();
        self.min_ts = u64::MAX;
        self.max_ts = 0;
        self.tally = self.pushed.clone();
        Ok(())
    }

    /// Writes the frame being built, then a keyframe: `alive`, the processes alive after
    /// every event pushed so far, at `at_ns`, the latest time among those events. Split
    /// over frames as the snapshot is, each part saying which it is.
    pub fn write_keyframe(&mut self, at_ns: u64, alive: &Alive) -> io::Result<()> {
        self.write_events()?;
        let chunks = json_chunks(&alive.processes)?;
        let parts = chunks.len().max(1);
        let mut content = Vec::new();
        for part in 0..parts {
            let (count, chunk) = chunks.get(part).map_or((0, &b"[]"[..]), |(n, c)| (*n, c));
            let first = part == 0;
            let head = KeyframeHead {
                at_ns,
                events: self.records,
                part,
                parts,
                subreapers: if first {
                    alive.subreapers.clone()
                } else {
                    Vec::new()
                },
                without_creds: if first {
                    alive.without_creds.clone()
                } else {
                    Vec::new()
                },
            };
            content.clear();
            serde_json::to_writer(&mut content, &head)?;
            // The head's closing brace becomes the processes field's comma.
            content.pop();
            content.extend_from_slice(b",\"processes\":");
            content.extend_from_slice(chunk);
            content.push(b'}');
            self.write_frame(FrameKind::Keyframe, count, (at_ns, at_ns), &content)?;
        }
        Ok(())
    }

    /// Writes what is left and the end frame, and flushes. Nothing may be pushed after.
    pub fn finish(&mut self, end_ns: u64) -> io::Result<()> {
        self.write_events()?;
        let end = End {
            end_ns,
            events: self.tally.total(),
            lost: self.tally.lost,
        };
        self.write_json_frame(FrameKind::End, 1, (end_ns, end_ns), &end)?;
        self.out.flush()
    }

    /// What is in the file so far: complete frames only.
    pub fn summary(&self) -> Summary {
        Summary {
            tally: self.tally.clone(),
            bytes: self.written,
        }
    }

    pub fn get_ref(&self) -> &W {
        &self.out
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    fn write_json_frame(
        &mut self,
        kind: FrameKind,
        count: u32,
        times: (u64, u64),
        value: &impl serde::Serialize,
    ) -> io::Result<()> {
        let json = serde_json::to_vec(value)?;
        self.write_frame(kind, count, times, &json)
    }

    fn write_frame(
        &mut self,
        kind: FrameKind,
        count: u32,
        times: (u64, u64),
        content: &[u8],
    ) -> io::Result<()> {
        self.frames
            .encode(kind, count, times, content, &mut self.frame)?;
        self.out.write_all(&self.frame)?;
        self.written += self.frame.len() as u64;
        Ok(())
    }
}

/// What a recording holds.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub tally: Tally,
    /// The file's size.
    pub bytes: u64,
}

impl Summary {
    /// `1203 events (fork 400, ...), 0 lost, 45.2 KiB (38.5 bytes per event)`.
    pub fn describe(&self) -> String {
        let events = self.tally.total().max(1);
        format!(
            "{}, {} ({:.1} bytes per event)",
            self.tally.summary(),
            human_bytes(self.bytes),
            self.bytes as f64 / events as f64
        )
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::{
        event::{Argv, Comm, Creds},
        recording::{
            Reader,
            frame::{HEADER_LEN, Header},
            tests::info,
        },
    };

    fn process(pid: u32, argv: Argv) -> ProcessInfo {
        ProcessInfo {
            pid,
            ppid: 1,
            start_ns: 1_000,
            comm: Comm::from("sleep"),
            argv,
            argv_truncated: false,
            creds: Creds::default(),
            state: 'S',
            kernel_thread: false,
            threads: 1,
            pid_ns: None,
            cgroup: None,
            sampled: None,
        }
    }

    /// The content length of each snapshot frame in a recording.
    fn snapshot_frames(bytes: &[u8]) -> Vec<u32> {
        let mut at = FILE_HEADER_LEN;
        let mut frames = Vec::new();
        while at < bytes.len() {
            let header = Header::parse(bytes[at..at + HEADER_LEN].try_into().unwrap()).unwrap();
            if header.kind() == Some(FrameKind::Snapshot) {
                frames.push(header.content_len);
            }
            at += HEADER_LEN + header.stored_len as usize;
        }
        frames
    }

    #[test]
    fn the_snapshot_is_cut_into_frames_by_size_and_a_huge_argv_cannot_stop_it() {
        // Control bytes take six bytes each in JSON: 50 KiB per process.
        let mut snapshot: Vec<ProcessInfo> = (2..300)
            .map(|pid| process(pid, Argv::from_area(&[1; MAX_ARGV_BYTES])))
            .collect();
        // A process with 16 MiB of argv, as no live snapshot gives but a caller could.
        snapshot.insert(100, process(5000, Argv::from_area(&vec![b'x'; 16 << 20])));
        let mut writer = Writer::new(Vec::new(), &info(), &snapshot).unwrap();
        writer.finish(2_000).unwrap();
        let bytes = writer.into_inner();

        let frames = snapshot_frames(&bytes);
        assert!(frames.len() >= 14, "{frames:?}");
        assert!(
            frames.iter().all(|&n| n as usize <= SNAPSHOT_FRAME_BYTES),
            "{frames:?}"
        );
        let read = Reader::new(Cursor::new(&bytes[..])).unwrap();
        let got = read.snapshot();
        assert_eq!(got.len(), snapshot.len());
        let big = &got[100];
        assert_eq!(big.pid, 5000);
        assert!(big.argv_truncated);
        assert_eq!(big.argv.byte_len(), MAX_ARGV_BYTES + 1);
        assert_eq!(got[101], snapshot[101]);
    }

    #[test]
    fn a_snapshot_frame_holds_its_closing_bracket_within_the_size() {
        // A process whose JSON takes `len` bytes.
        let sized = |len: usize| {
            let base = serde_json::to_vec(&process(2, Argv::from_area(b"x"))).unwrap();
            let p = process(2, Argv::from_area(&vec![b'x'; len + 1 - base.len()]));
            assert_eq!(serde_json::to_vec(&p).unwrap().len(), len);
            p
        };
        // 131 of 8,000 bytes and one that makes "[", them, their commas and the last
        // exactly the size: the "]" is one byte too many.
        let last = SNAPSHOT_FRAME_BYTES - 132 - 131 * 8000;
        let mut snapshot = vec![sized(8000); 131];
        snapshot.push(sized(last));
        let mut writer = Writer::new(Vec::new(), &info(), &snapshot).unwrap();
        writer.finish(2_000).unwrap();
        let bytes = writer.into_inner();
        let frames = snapshot_frames(&bytes);
        assert!(
            frames.iter().all(|&n| n as usize <= SNAPSHOT_FRAME_BYTES),
            "{frames:?}"
        );
        let read = Reader::new(Cursor::new(&bytes[..])).unwrap();
        assert_eq!(read.snapshot(), snapshot);
    }

    #[test]
    fn an_exec_beyond_what_sources_give_is_recorded_cut() {
        let mut writer = Writer::new(Vec::new(), &info(), &[]).unwrap();
        let exec = Event {
            kind: Kind::Exec {
                filename: vec![b'/'; 1 << 20].into(),
                argv: Argv::from_area(&vec![b'x'; 16 << 20]),
                argv_truncated: false,
                filename_truncated: false,
                argv_unreadable: false,
            },
            ..Event::lost(1_500, 0)
        };
        writer.push(&exec).unwrap();
        writer.finish(2_000).unwrap();
        let mut reader = Reader::new(Cursor::new(writer.into_inner())).unwrap();
        let mut got = Vec::new();
        while reader.next_batch(&mut got).unwrap() {}
        let mut expected = exec;
        expected.cap();
        assert_eq!(got, [expected]);
    }

    #[test]
    fn each_cap_is_kept_on_its_own() {
        let exec = |filename: Vec<u8>, argv: Vec<u8>| Event {
            kind: Kind::Exec {
                filename: filename.into(),
                argv: Argv::from_area(&argv),
                argv_truncated: false,
                filename_truncated: false,
                argv_unreadable: false,
            },
            ..Event::lost(1_500, 0)
        };
        // Over one cap, with far less than the other's room left unused.
        let long_argv = exec(b"/bin/x".to_vec(), vec![b'x'; 10_000]);
        let long_name = exec(vec![b'/'; MAX_FILENAME_BYTES + 100], b"x".to_vec());
        let mut writer = Writer::new(Vec::new(), &info(), &[]).unwrap();
        writer.push(&long_argv).unwrap();
        writer.push(&long_name).unwrap();
        writer.finish(2_000).unwrap();
        let mut reader = Reader::new(Cursor::new(writer.into_inner())).unwrap();
        let mut got = Vec::new();
        while reader.next_batch(&mut got).unwrap() {}
        let cut = |mut e: Event| {
            e.cap();
            e
        };
        assert_eq!(got, [cut(long_argv), cut(long_name)]);
        let Kind::Exec {
            argv,
            argv_truncated,
            filename_truncated,
            ..
        } = &got[0].kind
        else {
            unreachable!()
        };
        assert_eq!(argv.byte_len(), MAX_ARGV_BYTES + 1);
        assert!(*argv_truncated && !*filename_truncated);
        assert!(matches!(
            got[1].kind,
            Kind::Exec {
                filename_truncated: true,
                ..
            }
        ));
    }
}
