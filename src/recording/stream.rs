//! Recordings that are still arriving: a stream (`record -o -` piped, or over ssh) and a
//! file still being written (`replay --follow`).
//!
//! A stream is copied by a thread of its own into a spool file: a private, unlinked
//! temporary file (`O_TMPFILE`, mode 0600, in `$TMPDIR`, /var/tmp or /tmp), so the
//! replay keeps what arrived on disk, not in memory, and can seek within it. The replay
//! reads the spool (or the followed file) in follow mode: the end of what arrived, and a
//! frame not complete yet, mean "not yet" while the input is open. A stream has *ended*
//! when its end frame arrived, and *broke* when its input closed without it or a frame
//! was damaged.

use std::{
    fs::File,
    io::{self, Read, Seek, SeekFrom},
    os::unix::fs::FileExt,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Duration,
};

use tokio::sync::Notify;

use super::{OpenError, Reader, Replay};
use crate::{private_file, text};

/// How often a followed file is looked at again: nothing tells when it grows.
const POLL: Duration = Duration::from_millis(50);
/// Bytes the spool thread reads at once.
const CHUNK: usize = 64 * 1024;
/// The most of a stream kept: past it the stream breaks, so that a stream that never
/// ends cannot fill the disk (16 GiB: two billion events of a fork storm).
pub const MAX_SPOOL_BYTES: u64 = 16 << 30;

/// How a stream came to its end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamEnd {
    /// Its end frame arrived: the recorder stopped properly.
    Ended,
    /// It stopped without its end frame, for this reason.
    Broke(String),
}

/// What the spool thread, the replay and whoever feeds the stream share.
#[derive(Default)]
struct State {
    /// The input closed: nothing more will arrive.
    closed: AtomicBool,
    /// Why the input closed, when someone knows better than "it closed".
    reason: Mutex<Option<String>>,
    more: Notify,
    /// The replay has ended (its end frame, or damage): nothing more is kept.
    read_out: AtomicBool,
}

/// A recording still arriving, as its replay sees it.
#[derive(Clone)]
pub struct Follow {
    state: Arc<State>,
}

impl Follow {
    fn new() -> Self {
        Self {
            state: Arc::default(),
        }
    }

    /// Whether more may arrive. Asked before reading: a read that then finds nothing new
    /// after the input closed has seen everything.
    pub fn is_open(&self) -> bool {
        !self.state.closed.load(Ordering::Acquire)
    }

    /// Waits until more arrived, or a while (a followed file does not say when it grows).
    pub async fn more(&self) {
        let _ = tokio::time::timeout(POLL, self.state.more.notified()).await;
    }

    /// The reason given for the input's closing, if any.
    pub fn reason(&self) -> Option<String> {
        self.state.reason.lock().ok()?.clone()
    }

    /// Says the replay has ended: what still arrives is not kept, and the input is let go.
    pub fn read_out(&self) {
        self.state.read_out.store(true, Ordering::Release);
    }

    fn close(&self, reason: Option<String>) {
        if let (Some(reason), Ok(mut slot)) = (reason, self.state.reason.lock()) {
            slot.get_or_insert(reason);
        }
        self.state.closed.store(true, Ordering::Release);
        self.state.more.notify_one();
    }
}

/// A recording stream, replayed as it arrives.
pub struct Stream;

impl Stream {
    /// Replays `input` as it arrives (see the module documentation). Returns once the
    /// stream's info and snapshot arrived; a stream that closes before them, or that is
    /// not a recording, is an error.
    pub async fn spool(input: impl Read + Send + 'static) -> Result<Replay, OpenError> {
        Self::spool_telling(input, || None).await
    }

    /// [`Stream::spool`], where `why` says, once `input` has closed, why it did (e.g. the
    /// line ssh wrote on its stderr); a stream that then lacks its end frame broke for
    /// that reason.
    pub async fn spool_telling(
        input: impl Read + Send + 'static,
        why: impl FnOnce() -> Option<String> + Send + 'static,
    ) -> Result<Replay, OpenError> {
        let file = spool_file().map_err(OpenError::Io)?;
        let writer = file.try_clone().map_err(OpenError::Io)?;
        let follow = Follow::new();
        let copier = follow.clone();
        thread::Builder::new()
            .name("stream-spool".into())
            .spawn(move || copy(input, &writer, &copier, why))
            .map_err(OpenError::Io)?;
        Replay::following(file, follow).await
    }
}

/// Replays the recording `file` while it is being written; it ends at its end frame.
/// A recorder that died writes no end frame: the replay waits on until the user quits.
pub async fn follow(file: File) -> Result<Replay, OpenError> {
    Replay::following(file, Follow::new()).await
}

/// Opens the recording in `file` once its info and snapshot have arrived: until then, and
/// while more may arrive, what reads as cut short or empty is not there yet.
pub(super) async fn open_following(
    file: &File,
    follow: &Follow,
) -> Result<Reader<io::BufReader<File>>, OpenError> {
    loop {
        let open = follow.is_open();
        let mut input = file.try_clone().map_err(OpenError::Io)?;
        input.seek(SeekFrom::Start(0)).map_err(OpenError::Io)?;
        match Reader::following(input) {
            Err(OpenError::NotYet) if open => follow.more().await,
            Err(OpenError::NotYet) if file.metadata().map_err(OpenError::Io)?.len() == 0 => {
                return Err(OpenError::NotARecording { hint: EMPTY_STREAM });
            }
            result => return result,
        }
    }
}

/// What opening a stream that closed before a byte arrived says.
pub const EMPTY_STREAM: &str = " (the input is empty)";

/// Copies `input` to `spool` as it comes, telling `follow` of each part, until it ends;
/// then tells it why, asking `why` when the input closed.
fn copy(mut input: impl Read, spool: &File, follow: &Follow, why: impl FnOnce() -> Option<String>) {
    let mut buf = vec![0; CHUNK];
    let mut at = 0;
    let reason = loop {
        match input.read(&mut buf) {
            Ok(0) => break why(),
            Ok(_) if follow.state.read_out.load(Ordering::Acquire) => break None,
            Ok(n) if at + n as u64 > MAX_SPOOL_BYTES => {
                break Some(format!(
                    "it passed the {} GiB kept of a stream",
                    MAX_SPOOL_BYTES >> 30
                ));
            }
            Ok(n) => {
                if let Err(e) = spool.write_all_at(&buf[..n], at) {
                    break Some(format!("cannot keep the stream in the spool file: {e}"));
                }
                at += n as u64;
                follow.state.more.notify_one();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Some(format!("cannot read the stream: {e}")),
        }
    };
    follow.close(reason);
}

/// Creates the spool file: unlinked, so nothing else can open it, and gone with the
/// process.
fn spool_file() -> io::Result<File> {
    private_file::unnamed().map_err(|(dir, e)| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot make a spool file for the stream in {}: {e}",
                text::escape_path(&dir)
            ),
        )
    })
}
