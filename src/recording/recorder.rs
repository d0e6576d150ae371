//! The tee: whoever reads a [`Source`](crate::source::Source) hands each batch to
//! [`Recorder::record`], which only queues it; a thread of the recorder's own compresses and
//! writes, so a slow or failing disk never holds up the live stream. The queue holds at
//! most [`QUEUE_BYTES`]: a batch that does not fit is not queued but counted, and goes into
//! the recording as a `lost` event in its place, so a replay counts it as lost.

use std::{
    fs::File,
    io::Write,
    path::Path,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, AtomicUsize, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow};

use super::{
    Info, LiveSet, Summary, Writer,
    keyframe::{KEYFRAME_EVENTS, KEYFRAME_GROWTH},
};
use crate::{
    event::{Event, Kind},
    proc::snapshot::ProcessInfo,
    text,
};

/// Events wait at most this long in memory before they are written: what a kill -9 or a
/// crash can take with it.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// The same into a pipe or socket (`record -o -`): a viewer at the other end shows the
/// events this much late at most.
const STREAM_FLUSH_INTERVAL: Duration = Duration::from_millis(100);

/// A backlog of this many events means the disk is not keeping up.
pub const SLOW_DISK_BACKLOG: usize = 100_000;
/// Bytes the events waiting to be written may hold ([`Event::byte_size`]) by default:
/// 500,000 ordinary events, five times [`SLOW_DISK_BACKLOG`].
pub const QUEUE_BYTES: usize = 64 << 20;

enum Message {
    /// Events and their bytes.
    Events(Vec<Event>, usize),
    Finish {
        end_ns: u64,
    },
}

/// What the writing thread tells its owner.
#[derive(Default)]
struct Shared {
    /// Events handed to `record` and not yet encoded.
    backlog: AtomicUsize,
    /// Their bytes.
    backlog_bytes: AtomicUsize,
    /// The first write error, as the one line to show.
    error: OnceLock<String>,
}

/// Records a stream of events to a file.
pub struct Recorder {
    sender: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    thread: thread::JoinHandle<Summary>,
    /// The most bytes that may wait: [`QUEUE_BYTES`].
    queue_bytes: usize,
    /// Events not queued since the last that were, and the time of the last of them: the
    /// `lost` event that stands for them.
    unqueued: AtomicU64,
    unqueued_ts: AtomicU64,
    /// Every event not queued, for the status line.
    unqueued_total: AtomicU64,
}

impl Recorder {
    /// Records to `file` (made by [`crate::recording::create`]), called `path` in
    /// messages. Writes the info and snapshot frames before returning, so a file that
    /// cannot be written is an error here.
    pub fn new(file: File, path: &Path, info: &Info, snapshot: &[ProcessInfo]) -> Result<Self> {
        Self::start(file, path, info, snapshot, None)
    }

    /// [`Recorder::new`], with keyframes: `live` is seeded with `snapshot` and fed the
    /// events written, and what it holds is written as a keyframe every
    /// [`KEYFRAME_EVENTS`] events or so.
    pub fn with_keyframes(
        file: File,
        path: &Path,
        info: &Info,
        snapshot: &[ProcessInfo],
        live: Box<dyn LiveSet>,
    ) -> Result<Self> {
        let keyframes = Keyframes::new(live, KEYFRAME_EVENTS, KEYFRAME_GROWTH);
        Self::start(file, path, info, snapshot, Some(keyframes))
    }

    /// [`Recorder::with_keyframes`], with a keyframe every `every` events and `growth`
    /// times the last one's size.
    #[cfg(test)]
    pub(super) fn with_keyframes_every(
        file: File,
        info: &Info,
        live: Box<dyn LiveSet>,
        (every, growth): (u64, u64),
    ) -> Result<Self> {
        let path = Path::new("test.fwrec");
        let keyframes = Keyframes::new(live, every, growth);
        Self::start(file, path, info, &[], Some(keyframes))
    }

    fn start(
        file: File,
        path: &Path,
        info: &Info,
        snapshot: &[ProcessInfo],
        keyframes: Option<Keyframes>,
    ) -> Result<Self> {
        let stream = file.metadata().is_ok_and(|m| !m.is_file());
        let flush = if stream {
            STREAM_FLUSH_INTERVAL
        } else {
            FLUSH_INTERVAL
        };
        let writer = Writer::new(file, info, snapshot)
            .with_context(|| format!("cannot write the recording {}", text::escape_path(path)))?;
        let (sender, receiver) = mpsc::channel();
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = Arc::clone(&shared);
            let path = path.to_owned();
            thread::Builder::new()
                .name("recorder".into())
                .spawn(move || write_loop(writer, keyframes, &receiver, &shared, (&path, flush)))
                .context("cannot start the recording thread")?
        };
        Ok(Self {
            sender,
            shared,
            thread,
            queue_bytes: QUEUE_BYTES,
            unqueued: AtomicU64::new(0),
            unqueued_ts: AtomicU64::new(0),
            unqueued_total: AtomicU64::new(0),
        })
    }

    /// Queues `batch` for writing. Never blocks: a batch that does not fit in the queue
    /// (unless the queue is empty) is counted instead, and recorded as a `lost` event
    /// before the next batch that fits. After a write error it does nothing (see [`Recorder::error`]).
    pub fn record(&self, mut batch: Vec<Event>) {
        if batch.is_empty() || self.shared.error.get().is_some() {
            return;
        }
        let bytes: usize = batch.iter().map(Event::byte_size).sum();
        let waiting = self.shared.backlog_bytes.load(Ordering::Relaxed);
        if waiting > 0 && waiting + bytes > self.queue_bytes {
            let count: u64 = batch
                .iter()
                .map(|e| match e.kind {
                    Kind::Lost { count } => count,
                    _ => 1,
                })
                .sum();
            self.unqueued.fetch_add(count, Ordering::Relaxed);
            self.unqueued_total.fetch_add(count, Ordering::Relaxed);
            let last_ts = batch.iter().map(|e| e.ts_ns).max().unwrap_or(0);
            self.unqueued_ts.fetch_max(last_ts, Ordering::Relaxed);
            return;
        }
        let unqueued = self.unqueued.swap(0, Ordering::Relaxed);
        if unqueued > 0 {
            let ts_ns = self.unqueued_ts.swap(0, Ordering::Relaxed);
            batch.insert(0, Event::lost(ts_ns, unqueued));
        }
        self.send(batch, bytes);
    }

    fn send(&self, batch: Vec<Event>, bytes: usize) {
        self.shared
            .backlog
            .fetch_add(batch.len(), Ordering::Relaxed);
        self.shared
            .backlog_bytes
            .fetch_add(bytes, Ordering::Relaxed);
        // The thread only ends after `finish`, which consumes self.
        let _ = self.sender.send(Message::Events(batch, bytes));
    }

    /// Events that did not fit in the queue, recorded as lost: many when the disk is slow.
    pub fn unqueued(&self) -> u64 {
        self.unqueued_total.load(Ordering::Relaxed)
    }

    /// Events queued but not yet written: large when the disk is slow (see
    /// [`SLOW_DISK_BACKLOG`]).
    pub fn backlog(&self) -> usize {
        self.shared.backlog.load(Ordering::Relaxed)
    }

    /// The write error that stopped the recording, as one line.
    pub fn error(&self) -> Option<&str> {
        self.shared.error.get().map(String::as_str)
    }

    /// Writes everything queued and the end frame, stamped `end_ns`, and closes the file.
    pub fn finish(self, end_ns: u64) -> Result<Summary> {
        let unqueued = self.unqueued.swap(0, Ordering::Relaxed);
        if unqueued > 0 {
            let ts_ns = self.unqueued_ts.load(Ordering::Relaxed);
            self.send(vec![Event::lost(ts_ns, unqueued)], 0);
        }
        let _ = self.sender.send(Message::Finish { end_ns });
        let summary = self
            .thread
            .join()
            .map_err(|_| anyhow!("the recording thread panicked"))?;
        match self.shared.error.get() {
            Some(error) => Err(anyhow!("{error}")),
            None => Ok(summary),
        }
    }
}

fn write_loop(
    mut writer: Writer<File>,
    mut keyframes: Option<Keyframes>,
    receiver: &mpsc::Receiver<Message>,
    shared: &Shared,
    (path, flush): (&Path, Duration),
) -> Summary {
    let fail = |writer: &Writer<File>, error: std::io::Error| {
        let summary = writer.summary();
        let stdout = path == Path::new(super::STANDARD_STREAM);
        // A frame cut by the error would read as damage: cut it off, so the file ends
        // with its last complete frame. Not standard output: whatever it is (a file
        // appended to, say), forkwatch did not make it and knows not where it started.
        if !stdout {
            let _ = writer.get_ref().set_len(summary.bytes);
        }
        let written = summary.tally.total();
        let reader_gone = error.kind() == std::io::ErrorKind::BrokenPipe && stdout;
        let _ = shared.error.set(if reader_gone {
            format!("the reader of the stream went away after {written} events")
        } else {
            format!(
                "cannot write to the recording {}: {error}; the {written} events written \
                 before stay readable",
                text::escape_path(path),
            )
        });
    };
    let mut deadline: Option<Instant> = None;
    loop {
        let message = match deadline {
            Some(at) => receiver.recv_timeout(at.saturating_duration_since(Instant::now())),
            None => receiver
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        let result = match message {
            Ok(Message::Events(batch, bytes)) => {
                shared.backlog.fetch_sub(batch.len(), Ordering::Relaxed);
                shared.backlog_bytes.fetch_sub(bytes, Ordering::Relaxed);
                if shared.error.get().is_some() {
                    continue;
                }
                let mut result = batch.iter().try_for_each(|e| writer.push(e));
                if let (Ok(()), Some(keyframes)) = (&result, &mut keyframes) {
                    result = keyframes.after(&batch, &mut writer);
                }
                if writer.pending() == 0 {
                    deadline = None;
                } else if deadline.is_none() {
                    deadline = Some(Instant::now() + flush);
                }
                result
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                deadline = None;
                writer.write_events()
            }
            Ok(Message::Finish { end_ns }) => {
                if shared.error.get().is_none()
                    && let Err(error) = writer.finish(end_ns)
                {
                    fail(&writer, error);
                }
                return writer.summary();
            }
            // The recorder was dropped without `finish`: what waits still goes to the file,
            // but no end frame, as the recording was not closed.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if shared.error.get().is_none()
                    && let Err(error) = writer.write_events()
                {
                    fail(&writer, error);
                }
                return writer.summary();
            }
        };
        if let Err(error) = result {
            fail(&writer, error);
            deadline = None;
        }
    }
}

/// When to write a keyframe, and what into it.
pub(super) struct Keyframes {
    live: Box<dyn LiveSet>,
    /// At least this many events between two keyframes ([`KEYFRAME_EVENTS`]), and this
    /// many times the last keyframe's size ([`KEYFRAME_GROWTH`]).
    every: u64,
    growth: u64,
    /// The latest event time written.
    latest_ns: u64,
    /// Events written since the last keyframe.
    since: u64,
    /// The file's size after the last keyframe, and that keyframe's size.
    after_last: u64,
    last_bytes: u64,
}

impl Keyframes {
    pub(super) fn new(live: Box<dyn LiveSet>, every: u64, growth: u64) -> Self {
        Self {
            live,
            every,
            growth,
            latest_ns: 0,
            since: 0,
            after_last: 0,
            last_bytes: 0,
        }
    }

    /// Feeds the model a batch just pushed to `writer`, and writes a keyframe if one is
    /// due.
    pub(super) fn after<W: Write>(
        &mut self,
        batch: &[Event],
        writer: &mut Writer<W>,
    ) -> std::io::Result<()> {
        for event in batch {
            self.live.apply(event);
            self.latest_ns = self.latest_ns.max(event.ts_ns);
        }
        self.since += batch.len() as u64;
        let grown = writer.summary().bytes.saturating_sub(self.after_last);
        if self.since < self.every || grown < self.growth * self.last_bytes {
            return Ok(());
        }
        writer.write_events()?;
        let before = writer.summary().bytes;
        writer.write_keyframe(self.latest_ns, &self.live.alive())?;
        self.after_last = writer.summary().bytes;
        self.last_bytes = self.after_last - before;
        self.since = 0;
        Ok(())
    }
}

// The tests of the binary stall a disk this way too.
#[cfg(test)]
#[path = "../../tests/common/stalled_pipe.rs"]
mod stalled_pipe;

#[cfg(test)]
mod tests {
    use super::{stalled_pipe::StalledPipe, *};
    use crate::{
        event::Argv,
        recording::{Reader, tests::info},
    };

    /// Execs whose argv (1,000 letters) does not compress, so a stalled disk holds few.
    fn execs(n: usize) -> Vec<Event> {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        (0..n)
            .map(|i| {
                let noise: Vec<u8> = (0..1000)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        b'a' + (seed % 26) as u8
                    })
                    .collect();
                Event {
                    pid: i as u32,
                    kind: Kind::Exec {
                        filename: "/bin/job".into(),
                        argv: Argv::from_args([noise]),
                        argv_truncated: false,
                        filename_truncated: false,
                        argv_unreadable: false,
                    },
                    ..Event::lost(1_000 + i as u64, 0)
                }
            })
            .collect()
    }

    #[test]
    fn what_does_not_fit_in_the_queue_is_recorded_as_lost_in_its_place() {
        let pipe = StalledPipe::new();
        let mut recorder = Recorder::new(pipe.open(), &pipe.path, &info(), &[]).unwrap();
        recorder.queue_bytes = 1 << 20;
        // 10 MiB of events, in batches of 100, and a loss report among them.
        let mut sent = execs(10_000);
        sent[5_000] = Event::lost(6_000, 7);
        for batch in sent.chunks(100) {
            recorder.record(batch.to_vec());
        }
        let unqueued = recorder.unqueued();
        assert!(unqueued > 5_000, "{unqueued}");
        pipe.resume();
        let summary = recorder.finish(20_000).unwrap();

        let mut reader = Reader::new(std::io::Cursor::new(pipe.bytes())).unwrap();
        let mut got = Vec::new();
        while reader.next_batch(&mut got).unwrap() {}
        // Each event written is the next one sent, or a report that stands for exactly
        // the next ones sent that were not queued.
        let stands_for = |e: &Event| match e.kind {
            Kind::Lost { count } => count,
            _ => 1,
        };
        let (mut next, mut reported) = (0, 0);
        for event in &got {
            if event == &sent[next] {
                next += 1;
                continue;
            }
            let mut count = event.lost_count();
            assert!(count > 0, "{event:?} is not the next event sent");
            reported += count;
            while count > 0 {
                count -= stands_for(&sent[next]);
                next += 1;
            }
        }
        assert_eq!(next, sent.len());
        assert_eq!(reported, unqueued);
        assert_eq!(
            summary.tally.total() + summary.tally.lost,
            sent.len() as u64 + 6
        );
    }
}
