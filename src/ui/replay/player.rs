//! The player: a recording as the UI's feed ([`UiFeed`]). It plays the [`Replay`] inside
//! the loop that owns the state (not in a task of its own), so that pausing, stepping and
//! seeking act at once rather than after the events already queued in the channel. It
//! gives the state the events as they fall due, and the replay's [`Status`], whose
//! position is the clock of a replay: ages, highlights and lingers follow the recording's
//! time, frozen while paused. A seek back starts the model again from the recording's
//! snapshot ([`Report::Rewound`]), then applies the events up to the target at once.

use std::{collections::VecDeque, sync::Arc};

use tokio::time::{Interval, MissedTickBehavior};

use crate::{
    event::Event,
    proc::snapshot::ProcessInfo,
    recording::{Damage, Position, Replay, Seek, Speed, StreamEnd},
    ui::{
        feed::{Next, UiFeed},
        message::AppEvent,
        runtime::TICK,
    },
};

/// What the replay keys ask of the player.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    /// Pauses, or plays; at the end, plays again from the start.
    PlayPause,
    Slower,
    Faster,
    /// Pauses and gives exactly the next event.
    Step,
    /// Goes to a time of the recording (CLOCK_BOOTTIME of the recording machine).
    SeekTo(u64),
    /// Goes forward (or back, if negative) by nanoseconds of the recording.
    SeekBy(i64),
}

/// Where a replay is and how it plays.
#[derive(Clone, Debug, PartialEq)]
pub struct Status {
    pub position: Position,
    pub speed: Speed,
    pub paused: bool,
    /// Every event was given out and the recording's time has run out, or the rest is
    /// lost to damage.
    pub ended: bool,
    /// The last damage met, and how many damaged places were met.
    pub damage: Option<Damage>,
    pub damaged: u64,
    /// Whether the file ends with its end frame; known once ended.
    pub closed_properly: bool,
    /// The recording is still arriving (a stream, or `--follow`).
    pub following: bool,
    /// How it came to its end, when following: known once everything that arrived was
    /// read, which may be before it was all played.
    pub stream_end: Option<StreamEnd>,
}

impl Status {
    /// `exhausted`: the replay has no event left to give.
    pub(super) fn of(replay: &Replay, exhausted: bool) -> Self {
        let mut position = replay.position();
        let damage = replay.damage();
        let ended = exhausted
            && (!damage.is_empty()
                || replay.speed() == Speed::Max
                || position.at_ns >= position.end_ns);
        if ended && damage.is_empty() {
            // As fast as possible, the time after the last event passes at once.
            position.at_ns = position.end_ns;
        }
        Self {
            position,
            speed: replay.speed(),
            paused: replay.is_paused(),
            ended,
            damage: damage.last().cloned(),
            damaged: replay.damaged(),
            closed_properly: replay.closed_properly(),
            following: replay.is_following(),
            stream_end: replay.stream_end(),
        }
    }
}

/// What the player tells the state, besides the events.
#[derive(Debug)]
pub enum Report {
    /// Where the replay is now.
    Status(Status),
    /// The replay went back to its start: the model starts again from the snapshot, at
    /// `start_ns`. The events up to the target follow at once.
    Rewound {
        snapshot: Arc<[ProcessInfo]>,
        start_ns: u64,
    },
}

/// Plays a recording for the loop that owns the state (see the module documentation).
pub struct Player {
    replay: Replay,
    /// While playing, the status goes to the state this often: it is the state's clock.
    ticks: Interval,
    batch: Vec<Event>,
    /// No event is left; the recording's time may still run on to its end.
    exhausted: bool,
    /// The last status given said the replay had ended.
    told_end: bool,
    /// Steps asked for and not yet given: keys can come faster than the loop plays.
    steps: u32,
    /// The status that follows a batch.
    pending: VecDeque<AppEvent>,
    /// Playing as fast as possible never waits: the loop must let the terminal's keys in.
    yield_due: bool,
}

impl Player {
    /// Must run inside a tokio runtime.
    pub fn new(replay: Replay) -> Self {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        Self {
            replay,
            ticks,
            batch: Vec::new(),
            exhausted: false,
            told_end: false,
            steps: 0,
            pending: VecDeque::new(),
            yield_due: false,
        }
    }

    pub fn status(&self) -> Status {
        Status::of(&self.replay, self.exhausted)
    }

    fn report(&mut self) -> AppEvent {
        let status = self.status();
        self.told_end = status.ended;
        AppEvent::Replay(Report::Status(status))
    }

    /// The next thing for the state: events that fell due (then the status), or the
    /// status on a tick, until the recording's end. Waits while paused or ended. Cancel-safe: nothing is lost if it
    /// is dropped before it returns.
    async fn play(&mut self) -> AppEvent {
        if let Some(event) = self.pending.pop_front() {
            return event;
        }
        if std::mem::take(&mut self.yield_due) {
            tokio::task::yield_now().await;
        }
        loop {
            if self.steps > 0 {
                self.replay.step();
            }
            let ended = self.status().ended;
            if ended && !self.told_end {
                // The time after the last event ran out between two calls.
                return self.report();
            }
            // A recording that arrives grows while paused too: the status says how far.
            let playing = (!self.replay.is_paused() || self.replay.is_following()) && !ended;
            tokio::select! {
                biased;
                more = self.replay.next_batch(&mut self.batch), if !self.exhausted => {
                    if !more {
                        self.exhausted = true;
                    } else if self.batch.is_empty() {
                        continue;
                    } else {
                        self.steps = self.steps.saturating_sub(1);
                        self.yield_due = true;
                        let status = self.report();
                        self.pending.push_back(status);
                        return AppEvent::Events(std::mem::take(&mut self.batch));
                    }
                    return self.report();
                }
                _ = self.ticks.tick(), if playing => {
                    self.replay.grow();
                    return self.report();
                }
                else => std::future::pending::<()>().await,
            }
        }
    }

    /// Carries out a key's control; returns what the state must apply at once.
    async fn carry_out(&mut self, control: Control) -> Vec<AppEvent> {
        self.pending.clear();
        let ended = self.status().ended;
        let replay = &mut self.replay;
        match control {
            Control::PlayPause if ended => {
                replay.play();
                return self.seek(0).await;
            }
            Control::PlayPause if replay.is_paused() => {
                self.steps = 0;
                replay.play();
            }
            Control::PlayPause => replay.pause(),
            Control::Slower => replay.set_speed(replay.speed().slower()),
            Control::Faster => replay.set_speed(replay.speed().faster()),
            Control::Step => {
                replay.pause();
                self.steps += 1;
            }
            Control::SeekTo(to_ns) => return self.seek(to_ns).await,
            Control::SeekBy(by_ns) => {
                // From the position shown.
                let to_ns = self.status().position.at_ns.saturating_add_signed(by_ns);
                return self.seek(to_ns).await;
            }
        }
        vec![self.report()]
    }

    /// Goes to `to_ns`: back to the snapshot first if it is behind, then every event up
    /// to it at once.
    async fn seek(&mut self, to_ns: u64) -> Vec<AppEvent> {
        self.steps = 0;
        let mut out = Vec::new();
        match self.replay.seek(to_ns) {
            Ok(Seek::Forward) => {}
            Ok(Seek::Rewound) => {
                self.exhausted = false;
                out.push(AppEvent::Replay(Report::Rewound {
                    snapshot: self.replay.shared_snapshot(),
                    start_ns: self.replay.info().start_ns,
                }));
            }
            Err(e) => {
                return vec![AppEvent::SourceFailed(format!(
                    "cannot read the recording again: {e}"
                ))];
            }
        }
        // With a seek pending, this returns at once.
        self.replay.next_batch(&mut self.batch).await;
        if !self.batch.is_empty() {
            out.push(AppEvent::Events(std::mem::take(&mut self.batch)));
        }
        out.push(self.report());
        out
    }
}

impl UiFeed for Player {
    fn next(&mut self) -> Next<'_, AppEvent> {
        Box::pin(self.play())
    }

    fn control(&mut self, control: Control) -> Next<'_, Vec<AppEvent>> {
        Box::pin(self.carry_out(control))
    }
}
