//! Replay: a recording as an event source. It gives out the recorded events at the pace
//! they happened, scaled by a speed, and can pause, step, and seek. Whoever owns it (the
//! UI's event loop) calls the controls between calls to [`Replay::next_batch`], which is
//! cancel-safe so it can sit in a `select!` beside keys and timers.

use std::{
    collections::VecDeque, fmt, fs::File, io, io::BufReader, path::Path, sync::Arc, time::Duration,
};

use tokio::time::Instant;

use super::{
    Info, Keyframe,
    reader::{Damage, Extent, OpenError, Reader},
    stream::{self, Follow, StreamEnd},
};
use crate::{event::Event, proc::snapshot::ProcessInfo, source::Feed};

/// How fast a replay runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Speed {
    /// Recording time passes this many times as fast as real time, from
    /// [`Speed::SLOWEST`] to [`Speed::FASTEST`].
    Times(f64),
    /// No waiting: every event as soon as it is read.
    Max,
}

impl Speed {
    pub const SLOWEST: f64 = 0.25;
    pub const FASTEST: f64 = 64.0;
    pub const REAL_TIME: Self = Self::Times(1.0);

    /// A factor, kept within the supported range.
    pub fn times(factor: f64) -> Self {
        Self::Times(factor.clamp(Self::SLOWEST, Self::FASTEST))
    }

    /// Twice as fast; past the fastest factor, as fast as possible.
    pub fn faster(self) -> Self {
        match self {
            Self::Times(f) if f >= Self::FASTEST => Self::Max,
            Self::Times(f) => Self::times(f * 2.0),
            Self::Max => Self::Max,
        }
    }

    /// Half as fast; as fast as possible becomes the fastest factor.
    pub fn slower(self) -> Self {
        match self {
            Self::Times(f) => Self::times(f / 2.0),
            Self::Max => Self::Times(Self::FASTEST),
        }
    }
}

impl fmt::Display for Speed {
    /// `1/4x`, `1/2x`, `1x`, `64x`, `max`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Times(x) if x < 1.0 => write!(f, "1/{}x", (1.0 / x).round()),
            Self::Times(x) => write!(f, "{x}x"),
            Self::Max => f.write_str("max"),
        }
    }
}

/// A seek gives out at most this many events per batch, so that a seek through a long
/// recording neither holds it all in memory nor keeps its consumer busy for long.
pub const SEEK_BATCH: usize = 65_536;

/// Further than any recording's time goes (a year).
const NEVER: Duration = Duration::from_secs(365 * 86_400);

/// What [`Replay::seek`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seek {
    /// The target is ahead: the next batches hold every event up to it, at once.
    Forward,
    /// The target is behind what was given out: the replay went back to the start. The
    /// consumer must reset its state to [`Replay::snapshot`]; the next batches then hold
    /// every event from the start up to the target, at once.
    Rewound,
}

/// Where a replay is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// The recording's time reached (CLOCK_BOOTTIME of the recording machine; show it
    /// with [`Info::wall_clock`]). It moves on between events while playing.
    pub at_ns: u64,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Events given out so far, and in the whole recording.
    pub events: u64,
    pub total_events: u64,
}

/// A recording played back as an event source. Needs no privileges.
pub struct Replay {
    reader: Reader<BufReader<File>>,
    extent: Extent,
    speed: Speed,
    paused: bool,
    /// Events read from the file and not yet given out.
    queue: VecDeque<Event>,
    read: Vec<Event>,
    /// The recording time reached when `anchor` was last set, or by the last event.
    position_ns: u64,
    /// Recording time `.0` plays at real time `.1`; unset while paused and after a change
    /// of speed, position or pause, so playing continues from `position_ns`.
    anchor: Option<(u64, Instant)>,
    given: u64,
    step: bool,
    seek_to: Option<u64>,
    skip_damage: bool,
    /// The first damaged places met and the last, at most [`DAMAGE_KEPT`].
    damage: Vec<Damage>,
    /// Damaged places met in all.
    damaged: u64,
    ended: bool,
    /// The recording is still arriving (a stream, or a file being written).
    follow: Option<Follow>,
}

/// Damaged places a replay keeps to report: a crafted file can hold one every few bytes.
const DAMAGE_KEPT: usize = 100;

impl Replay {
    /// Opens a recording, positioned at its start, playing at real time, as forkwatch
    /// runs: the commands open one with [`crate::recording::open`], which first gives up
    /// their privileges.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        Self::from_file(File::open(path).map_err(OpenError::Io)?)
    }

    /// [`Replay::open`] for a file already open.
    pub fn from_file(file: File) -> Result<Self, OpenError> {
        Self::with_reader(Reader::from_file(file)?, None)
    }

    /// A replay of `file` while it arrives, once its info and snapshot are there (see
    /// [`crate::recording::stream`]).
    pub(super) async fn following(file: File, follow: Follow) -> Result<Self, OpenError> {
        let reader = stream::open_following(&file, &follow).await?;
        Self::with_reader(reader, Some(follow))
    }

    fn with_reader(
        mut reader: Reader<BufReader<File>>,
        follow: Option<Follow>,
    ) -> Result<Self, OpenError> {
        let extent = reader.extent().map_err(OpenError::Io)?;
        Ok(Self {
            position_ns: reader.info().start_ns,
            reader,
            extent,
            speed: Speed::REAL_TIME,
            paused: false,
            queue: VecDeque::new(),
            read: Vec::new(),
            anchor: None,
            given: 0,
            step: false,
            seek_to: None,
            skip_damage: false,
            damage: Vec::new(),
            damaged: 0,
            ended: false,
            follow,
        })
    }

    pub fn info(&self) -> &Info {
        self.reader.info()
    }

    /// The processes running when the recording started: the state before the first event.
    pub fn snapshot(&self) -> &[ProcessInfo] {
        self.reader.snapshot()
    }

    /// The same, shared rather than copied: a seek back starts again from it.
    pub fn shared_snapshot(&self) -> Arc<[ProcessInfo]> {
        self.reader.shared_snapshot()
    }

    pub fn speed(&self) -> Speed {
        self.speed
    }

    pub fn set_speed(&mut self, speed: Speed) {
        self.hold_position();
        self.speed = speed;
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    pub fn pause(&mut self) {
        self.hold_position();
        self.paused = true;
    }

    pub fn play(&mut self) {
        self.hold_position();
        self.paused = false;
    }

    /// Makes the next batch exactly the next event, whether paused or not.
    pub fn step(&mut self) {
        self.step = true;
    }

    /// Moves to recording time `to_ns` (clamped to the recording). The next batches hold
    /// the events up to it at once (at most [`SEEK_BATCH`] each), paused or not.
    pub fn seek(&mut self, to_ns: u64) -> io::Result<Seek> {
        let to_ns = to_ns.clamp(self.extent_start(), self.extent.end_ns);
        let outcome = if to_ns < self.position_ns {
            self.reader.rewind()?;
            self.queue.clear();
            self.given = 0;
            self.damage.clear();
            self.damaged = 0;
            self.ended = false;
            self.position_ns = self.extent_start();
            Seek::Rewound
        } else {
            Seek::Forward
        };
        self.anchor = None;
        self.seek_to = Some(to_ns);
        Ok(outcome)
    }

    /// Moves to recording time `to_ns` (clamped to the recording) from the latest
    /// keyframe at or before it, or from the start when there is none, and returns where
    /// it starts: the consumer resets its state to that keyframe's processes at its time.
    /// The next batches hold the events from there up to `to_ns` at once, as after
    /// [`Replay::seek`]. A long recording is not read from the beginning.
    pub fn seek_from_keyframe(&mut self, to_ns: u64) -> io::Result<Keyframe> {
        let to_ns = to_ns.clamp(self.extent_start(), self.extent.end_ns);
        let start = match self.reader.keyframe_before(to_ns)? {
            Some(keyframe) => keyframe,
            None => Keyframe {
                at_ns: self.extent_start(),
                events: 0,
                processes: self.shared_snapshot(),
                subreapers: Vec::new(),
                without_creds: Vec::new(),
            },
        };
        self.queue.clear();
        self.given = start.events;
        self.damage.clear();
        self.damaged = 0;
        self.ended = false;
        self.position_ns = start.at_ns;
        self.anchor = None;
        self.seek_to = Some(to_ns);
        Ok(start)
    }

    /// Whether a seek is under way: the next batch holds more events up to its target.
    pub fn is_seeking(&self) -> bool {
        self.seek_to.is_some()
    }

    /// Whether damage is skipped (reading goes on at the next intact frame) rather than
    /// ending the replay.
    pub fn skip_damage(&mut self, skip: bool) {
        self.skip_damage = skip;
    }

    /// Damage met so far, in file order: the first places and the last, at most
    /// [`DAMAGE_KEPT`] of the [`damaged`](Self::damaged) ones.
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }

    /// How many damaged places were met.
    pub fn damaged(&self) -> u64 {
        self.damaged
    }

    /// Whether every event has been given out (or the rest is lost to damage).
    pub fn has_ended(&self) -> bool {
        self.ended && self.queue.is_empty()
    }

    /// Whether the file was closed properly; known once the replay has ended.
    pub fn closed_properly(&self) -> bool {
        self.reader.end().is_some()
    }

    pub fn position(&self) -> Position {
        let mut at_ns = self.position_ns;
        if let (Some((anchor_ns, anchor)), Speed::Times(factor), false) =
            (self.anchor, self.speed, self.paused)
        {
            let played = (anchor.elapsed().as_nanos() as f64 * factor) as u64;
            let next = self.queue.front().map_or(u64::MAX, |e| e.ts_ns);
            at_ns = at_ns.max(anchor_ns.saturating_add(played).min(next));
        }
        Position {
            at_ns: at_ns.min(self.extent.end_ns.max(self.extent_start())),
            start_ns: self.extent_start(),
            end_ns: self.extent.end_ns,
            events: self.given,
            total_events: self.extent.events,
        }
    }

    /// Waits until events are due, then appends them to `out`. Returns false once the
    /// recording (or its readable part) is over. While paused it waits for ever: the owner
    /// changes that between calls.
    pub async fn next_batch(&mut self, out: &mut Vec<Event>) -> bool {
        loop {
            if let Some(target) = self.seek_to {
                let mut room = SEEK_BATCH;
                while room > 0 && self.fill() {
                    let due = (self.queue.iter().take(room))
                        .take_while(|e| e.ts_ns <= target)
                        .count();
                    if due == 0 {
                        break;
                    }
                    self.give(out, due);
                    room -= due;
                }
                if room == 0 {
                    // The seek goes on at the next call.
                    return true;
                }
                self.seek_to = None;
                self.position_ns = self.position_ns.max(target);
                return true;
            }
            if !self.fill() {
                if let Some(follow) = self.follow.as_ref().filter(|_| !self.ended) {
                    follow.more().await;
                    self.grow();
                    continue;
                }
                if let Some(follow) = &self.follow {
                    follow.read_out();
                }
                return false;
            }
            if std::mem::take(&mut self.step) {
                self.give(out, 1);
                self.anchor = None;
                return true;
            }
            if self.paused {
                std::future::pending::<()>().await;
            }
            let factor = match self.speed {
                Speed::Max => {
                    self.give(out, self.queue.len());
                    return true;
                }
                Speed::Times(factor) => factor,
            };
            let now = Instant::now();
            let (anchor_ns, anchor) = *self.anchor.get_or_insert((self.position_ns, now));
            let due = |ts: u64| {
                let wait =
                    Duration::from_nanos((ts.saturating_sub(anchor_ns) as f64 / factor) as u64);
                // An event centuries ahead (a crafted time) is due never, not a panic.
                anchor.checked_add(wait).unwrap_or(anchor + NEVER)
            };
            while self.fill() && self.queue.front().is_some_and(|e| due(e.ts_ns) <= now) {
                self.give(out, 1);
            }
            if !out.is_empty() {
                return true;
            }
            if let Some(next) = self.queue.front() {
                tokio::time::sleep_until(due(next.ts_ns)).await;
            }
        }
    }

    /// Whether the recording is still arriving (a stream, or `--follow`): its extent
    /// grows, and it ends at its end frame or when its input closes.
    pub fn is_following(&self) -> bool {
        self.follow.is_some()
    }

    /// When following, takes in what arrived since: the extent (events, end time) grows.
    pub fn grow(&mut self) {
        if self.follow.is_none() {
            return;
        }
        if let Ok(extent) = self.reader.grow_extent() {
            self.extent.events = self.extent.events.max(extent.events);
            self.extent.end_ns = self.extent.end_ns.max(extent.end_ns);
        }
    }

    /// How a followed recording came to its end, once it has: ended (its end frame
    /// arrived, intact) or broke (its input closed without it, or damage). The reason is
    /// not escaped: it may quote the input.
    pub fn stream_end(&self) -> Option<StreamEnd> {
        let follow = self.follow.as_ref().filter(|_| self.has_ended())?;
        if let Some(damage) = self.damage.last() {
            let problem = &damage.problem;
            return Some(StreamEnd::Broke(format!(
                "damaged at byte {}: {problem}",
                damage.offset
            )));
        }
        if self.reader.end().is_some() {
            return Some(StreamEnd::Ended);
        }
        let reason = follow
            .reason()
            .unwrap_or_else(|| match self.reader.cut_frame() {
                Some(cut) => format!("the input closed inside the frame at byte {}", cut.offset),
                None => "the input closed before the recording's end".to_owned(),
            });
        Some(StreamEnd::Broke(reason))
    }

    fn extent_start(&self) -> u64 {
        self.reader.info().start_ns
    }

    /// Freezes the position where playing has taken it, to continue from there.
    fn hold_position(&mut self) {
        self.position_ns = self.position().at_ns;
        self.anchor = None;
    }

    /// Moves `n` queued events to `out`.
    fn give(&mut self, out: &mut Vec<Event>, n: usize) {
        let latest = self.queue.range(..n).map(|e| e.ts_ns).max();
        self.position_ns = self.position_ns.max(latest.unwrap_or(0));
        self.given += n as u64;
        if n == self.queue.len() && out.is_empty() {
            // Hand over the whole batch without moving events; `out`'s old buffer is
            // reused for reading.
            let mut batch = Vec::from(std::mem::take(&mut self.queue));
            std::mem::swap(out, &mut batch);
            self.read = batch;
        } else {
            out.extend(self.queue.drain(..n));
        }
    }

    /// Reads frames until an event is queued; false if none is left, or none has arrived
    /// yet when following.
    fn fill(&mut self) -> bool {
        while self.queue.is_empty() && !self.ended {
            // Asked before reading: a read after the input closed sees all there will be.
            let open = self.follow.as_ref().is_some_and(Follow::is_open);
            match self.reader.next_batch(&mut self.read) {
                // The queue is empty: take the batch whole rather than moving each event.
                Ok(true) => {
                    self.queue = std::mem::take(&mut self.read).into();
                    self.arrived();
                }
                Ok(false) if open && self.reader.end().is_none() => break,
                Ok(false) => {
                    self.ended = true;
                    self.arrived();
                }
                Err(damage) => {
                    self.note_damage(damage);
                    if !self.skip_damage {
                        self.ended = true;
                        continue;
                    }
                    let resync = self.reader.resync();
                    if let Some(unchecked) = resync.unchecked {
                        self.note_damage(unchecked);
                    }
                    self.ended = resync.at.is_none();
                }
            }
        }
        !self.queue.is_empty()
    }

    /// When following, the extent takes in the events just read and the end frame, which
    /// the frame headers read for it may not have counted yet.
    fn arrived(&mut self) {
        if self.follow.is_none() {
            return;
        }
        let read = self.given + self.queue.len() as u64;
        self.extent.events = self.extent.events.max(read);
        let latest = self.queue.iter().map(|e| e.ts_ns).max().unwrap_or(0);
        let end = self.reader.end().map_or(0, |end| end.end_ns);
        self.extent.end_ns = self.extent.end_ns.max(latest).max(end);
    }

    fn note_damage(&mut self, damage: Damage) {
        self.damaged += 1;
        if self.damage.len() < DAMAGE_KEPT {
            self.damage.push(damage);
        } else if let Some(last) = self.damage.last_mut() {
            *last = damage;
        }
    }
}

/// A replay is fed like a live source: it ends with the recording, and holds nothing that
/// is due when stopped.
impl Feed for Replay {
    async fn next_batch(&mut self, out: &mut Vec<Event>) -> anyhow::Result<bool> {
        Ok(Replay::next_batch(self, out).await)
    }

    fn finish(&mut self, _out: &mut Vec<Event>) {}

    fn name(&self) -> &'static str {
        "replay"
    }
}
