//! The tee: whoever reads a [`Source`](crate::source::Source) hands each batch to
//! [`Recorder::record`], which only queues it; a thread of the recorder's own compresses and
//! writes, so a slow or failing disk never holds up the live stream.

use std::{
    fs::File,
    path::Path,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, anyhow};

use super::{Info, Summary, Writer};
use crate::{event::Event, snapshot::ProcessInfo};

/// Events wait at most this long in memory before they are written: what a kill -9 or a
/// crash can take with it.
const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// A backlog of this many events means the disk is not keeping up.
pub const SLOW_DISK_BACKLOG: usize = 100_000;

enum Message {
    Events(Vec<Event>),
    Finish { end_ns: u64 },
}

/// What the writing thread tells its owner.
#[derive(Default)]
struct Shared {
    /// Events handed to `record` and not yet encoded.
    backlog: AtomicUsize,
    /// The first write error, as the one line to show.
    error: OnceLock<String>,
}

/// Records a stream of events to a file.
pub struct Recorder {
    sender: mpsc::Sender<Message>,
    shared: Arc<Shared>,
    thread: thread::JoinHandle<Summary>,
}

impl Recorder {
    /// Records to `file` (made by [`crate::private_file::create`]), called `path` in
    /// messages. Writes the info and snapshot frames before returning, so a file that
    /// cannot be written is an error here.
    pub fn new(file: File, path: &Path, info: &Info, snapshot: &[ProcessInfo]) -> Result<Self> {
        let writer = Writer::new(file, info, snapshot)
            .with_context(|| format!("cannot write the recording {}", path.display()))?;
        let (sender, receiver) = mpsc::channel();
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = Arc::clone(&shared);
            let path = path.to_owned();
            thread::Builder::new()
                .name("recorder".into())
                .spawn(move || write_loop(writer, &receiver, &shared, &path))
                .context("cannot start the recording thread")?
        };
        Ok(Self {
            sender,
            shared,
            thread,
        })
    }

    /// Queues `batch` for writing. Never blocks; after a write error it does nothing (see
    /// [`Recorder::error`]).
    pub fn record(&self, batch: Vec<Event>) {
        if batch.is_empty() || self.shared.error.get().is_some() {
            return;
        }
        self.shared
            .backlog
            .fetch_add(batch.len(), Ordering::Relaxed);
        // The thread only ends after `finish`, which consumes self.
        let _ = self.sender.send(Message::Events(batch));
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
    receiver: &mpsc::Receiver<Message>,
    shared: &Shared,
    path: &Path,
) -> Summary {
    let fail = |writer: &Writer<File>, error: std::io::Error| {
        let summary = writer.summary();
        // A frame cut by the error would read as damage: cut it off, so the file ends
        // with its last complete frame.
        let _ = writer.get_ref().set_len(summary.bytes);
        let _ = shared.error.set(format!(
            "cannot write to the recording {}: {error}; the {} events written before stay readable",
            path.display(),
            summary.tally.total()
        ));
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
            Ok(Message::Events(batch)) => {
                shared.backlog.fetch_sub(batch.len(), Ordering::Relaxed);
                if shared.error.get().is_some() {
                    continue;
                }
                let result = batch.iter().try_for_each(|e| writer.push(e));
                if writer.pending() == 0 {
                    deadline = None;
                } else if deadline.is_none() {
                    deadline = Some(Instant::now() + FLUSH_INTERVAL);
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
