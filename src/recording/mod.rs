//! Recordings: the /proc snapshot a session started from and every event after it, in a
//! file that replays later, on any machine, without root. The format is described in
//! docs/recording.md; [`FORMAT_VERSION`] changes whenever a reader of the previous version
//! could misread a file.
//!
//! - [`Recorder`] tees a live stream into a file from its own thread.
//! - [`Writer`] is the format itself, on any `io::Write`.
//! - [`Reader`] reads a recording back, reporting damage with its byte offset.
//! - Keyframes ([`LiveSet`]) let a reader start in the middle.
//! - [`Replay`] is an event source that plays a recording at a chosen speed.
//! - [`create`] and [`open`] make and open recording files with the right privileges.
//! - [`Stream`] and [`follow`] replay a recording while it arrives.

mod budget;
mod codec;
mod file;
mod frame;
mod keyframe;
mod merge;
mod merge_streams;
pub mod moment;
mod reader;
mod recorder;
mod replay;
mod stream;
mod writer;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use file::{
    Opened, STANDARD_STREAM, after_damaged, create, describe, open, open_all, open_any,
    open_arriving, reopen, say_damaged,
};
use keyframe::KeyframeHead;
pub use keyframe::{Alive, KEYFRAME_EVENTS, Keyframe, LiveSet};
pub use merge::{KeyframeModel, Part, merge};
pub use merge_streams::{Broken, merge_streams};
pub use reader::{Damage, Extent, Input, OpenError, Reader, Resync};
pub use recorder::{QUEUE_BYTES, Recorder, SLOW_DISK_BACKLOG};
pub use replay::{Position, Replay, Seek, Speed};
pub use stream::{EMPTY_STREAM, Stream, StreamEnd, follow};
pub use writer::{Summary, Writer};

use crate::{
    clock::WallClock,
    event::host::{self, Hosts},
    text,
};

/// The first bytes of every recording. The high byte and the CR LF catch transfers that
/// mangle binary files.
pub const MAGIC: [u8; 8] = *b"\x89FWREC\r\n";
/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 4;
/// Magic plus version.
pub const FILE_HEADER_LEN: usize = 12;

/// Where and how a recording was made: its first frame.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub host: String,
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// The event source that fed the recording (`Source::name`).
    pub backend: String,
    /// CLOCK_REALTIME minus CLOCK_BOOTTIME on the recording machine, in nanoseconds, so a
    /// replay shows the times of day the events happened at.
    pub wall_clock_offset_ns: i64,
    /// CLOCK_BOOTTIME when the recording started, which is when the snapshot was taken.
    pub start_ns: u64,
    /// The program and version that wrote the file.
    pub recorder: String,
    /// In a replay of several recordings (their merge), the host of each block of pids
    /// ([`crate::event::host`]), in the order the recordings were given; empty for one
    /// machine's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
}

/// This machine's `uname` fields, as text.
fn uname() -> (String, String) {
    // SAFETY: uname fills the struct it is given, which is valid and ours.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    unsafe { libc::uname(&mut uts) };
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (field(&uts.nodename), field(&uts.release))
}

/// This machine's host name (`uname -n`, of the UTS namespace forkwatch runs in), as a
/// recording names it.
pub fn this_host() -> String {
    uname().0
}

impl Info {
    /// Describes a recording on this machine whose snapshot was taken at `start_ns`.
    pub fn here(backend: &str, start_ns: u64) -> Self {
        let (host, kernel) = uname();
        Self {
            host,
            kernel,
            backend: backend.to_owned(),
            wall_clock_offset_ns: WallClock::now().offset_ns() as i64,
            start_ns,
            recorder: concat!("forkwatch-tui ", env!("CARGO_PKG_VERSION")).to_owned(),
            hosts: Vec::new(),
        }
    }

    /// The hosts whose processes the recording holds.
    pub fn hosts(&self) -> Hosts {
        Hosts {
            own: self.host.clone(),
            merged: self.hosts.clone(),
        }
    }

    /// The name of the host the process `pid` of this recording ran on: what every output
    /// that names a host asks.
    pub fn host_of(&self, pid: u32) -> &str {
        host::host_name(&self.host, &self.hosts, pid)
    }

    /// Converts the recording's event times to the times of day they happened at.
    pub fn wall_clock(&self) -> WallClock {
        WallClock::with_offset(self.wall_clock_offset_ns.into())
    }
}

impl fmt::Display for Info {
    /// `recorded on HOST (Linux 6.18.0) with eBPF at 12:01:02`, the names
    /// [escaped](text::escape): whoever wrote the file chose them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.hosts.is_empty() {
            let names: Vec<_> = self.hosts.iter().map(|h| text::escape_str(h)).collect();
            let n = names.len();
            return write!(f, "replay of {n} hosts: {}", names.join(", "));
        }
        write!(
            f,
            "recorded on {} (Linux {}) with {} at {}",
            text::escape_str(&self.host),
            text::escape_str(&self.kernel),
            text::escape_str(&self.backend),
            &self.wall_clock().time_of_day(self.start_ns)[..8]
        )
    }
}

/// The last frame of a recording that was closed properly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    /// CLOCK_BOOTTIME when the recording stopped.
    pub end_ns: u64,
    /// Events in the recording, loss reports not counted.
    pub events: u64,
    /// The sum of the loss reports' counts.
    pub lost: u64,
}

#[cfg(test)]
mod keyframe_tests;
#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
