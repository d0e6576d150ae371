//! `forkwatch-tui replay FILE` in the terminal UI: the same application, fed by a
//! recording instead of a live source.
//!
//! - [`Player`] plays the [`Replay`] inside the loop that owns the state (not in a task of
//!   its own), so that pausing, stepping and seeking act at once rather than after the
//!   events already queued in the channel. It gives the state the events as they fall
//!   due, and the replay's [`Status`], whose position is the clock of a replay: ages,
//!   highlights and lingers follow the recording's time, frozen while paused.
//! - A seek back starts the model again from the recording's snapshot
//!   ([`Report::Rewound`]), then applies the events up to the target at once.
//! - The keys ([`Control`], bound in `keys`) are asked of the player as requests.

use std::{collections::VecDeque, iter, process::ExitCode, sync::Arc};

use anyhow::Result;
use ratatui::{style::Stylize, text::Span};
use tokio::{
    task::LocalSet,
    time::{Interval, MissedTickBehavior},
};

use super::{
    App, AppEvent, SourceInfo, Users,
    dialog::{Prompt, PromptPurpose},
    message::Request,
    runtime::TICK,
};
use crate::{
    cli::ReplayArgs,
    clock::WallClock,
    cmd::StopSignals,
    event::{
        Event, KindSet, ProcessKey,
        duration::{self, SECOND},
    },
    proc::snapshot::ProcessInfo,
    recording::{Damage, Info, Position, Replay, Seek, Speed},
    source::Backend,
    text,
    tracker::model::Model,
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
}

impl Status {
    /// `exhausted`: the replay has no event left to give.
    fn of(replay: &Replay, exhausted: bool) -> Self {
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

/// The replay as the state knows it.
pub struct ReplayState {
    /// The file, as it was named.
    path: String,
    status: Status,
    skip_damage: bool,
    /// Before a rewind: the selected process, then its ancestors. The first of them in
    /// the tree again is selected.
    reselect: Vec<ProcessKey>,
    /// After a rewind: pins whose root was not in the snapshot, to make again once the
    /// replay has reached the target.
    repin: Vec<(ProcessKey, KindSet)>,
}

/// Opens `args.file` in the terminal UI and runs it until it quits. A file that cannot be
/// replayed is an error before the terminal is taken. Damage met on the way is shown, and
/// after the UI, said once more with a non-zero exit, as the headless replay does.
pub async fn run(args: &ReplayArgs) -> Result<ExitCode> {
    let stop = StopSignals::catch()?;
    let path = text::escape_path(&args.file).into_owned();
    let mut replay = crate::cmd::replay::open(&args.file)?;
    replay.skip_damage(args.skip_damage);
    // A uid names someone else on another machine: names only for a recording made here.
    let here = Info::here(&replay.info().backend, 0).host == replay.info().host;
    let users = if here {
        Users::system()
    } else {
        Users::with_lookup(|_| None)
    };
    let app = App::replaying(&path, &replay, args.skip_damage, users);
    LocalSet::new()
        .run_until(super::serve_replay(app, Box::new(replay), stop))
        .await
}

impl App {
    /// The application at the start of `replay` of the file `path`: the recording's
    /// snapshot, its clock and its backend.
    pub fn replaying(path: &str, replay: &Replay, skip_damage: bool, users: Users) -> Self {
        let info = replay.info();
        let mut model = Model::default();
        model.seed(replay.snapshot());
        let limited = info.backend != Backend::Ebpf.name();
        let name = if limited {
            format!("replay ({})", text::escape_str(&info.backend))
        } else {
            "replay".to_owned()
        };
        let source = SourceInfo {
            name,
            notices: Vec::new(),
            limited,
        };
        let mut app = App::new(model, source, info.wall_clock(), info.start_ns, users);
        app.replay = Some(ReplayState {
            path: path.to_owned(),
            status: Status::of(replay, false),
            skip_damage,
            reselect: Vec::new(),
            repin: Vec::new(),
        });
        app.say(info.to_string());
        app
    }

    /// A key of a replay: asked of the player; live, it only says what it is for.
    pub(super) fn control_replay(&mut self, control: Control) {
        if self.replay.is_none() {
            self.say_not_live();
            return;
        }
        self.requests.push(Request::Replay(control));
    }

    /// `t`: asks for the time to seek to.
    pub(super) fn open_seek_prompt(&mut self) {
        if self.replay.is_none() {
            self.say_not_live();
            return;
        }
        self.open(Prompt::new(PromptPurpose::Seek, &self.tree));
    }

    fn say_not_live(&mut self) {
        self.say("s [ ] . t { } play a recording (forkwatch-tui replay FILE); this is live");
    }

    /// Seeks to what was typed at the `t` prompt, or says why it cannot.
    pub(super) fn seek_to_text(&mut self, text: &str) {
        let (text, Some(state)) = (text.trim(), &self.replay) else {
            return;
        };
        if text.is_empty() {
            return;
        }
        let position = state.status.position;
        let target = match seek_target(text, &self.clock, position.at_ns) {
            Ok(target) => target,
            Err(why) => {
                self.say(why);
                return;
            }
        };
        if target < position.start_ns {
            let start = time_of_day(&self.clock, position.start_ns);
            self.say(format!(
                "{text} is before the recording, which starts at {start}"
            ));
        } else if target > position.end_ns {
            let end = time_of_day(&self.clock, position.end_ns);
            self.say(format!(
                "{text} is after the recording, which ends at {end}"
            ));
        }
        self.requests.push(Request::Replay(Control::SeekTo(target)));
    }

    pub(super) fn replay_report(&mut self, report: Report) {
        let Some(state) = &mut self.replay else {
            return;
        };
        match report {
            Report::Rewound { snapshot, start_ns } => {
                state.reselect = self
                    .tree
                    .cursor
                    .key
                    .map(|key| {
                        iter::once(key)
                            .chain(self.tracker.model().ancestry(key).iter().map(|p| p.key))
                            .collect()
                    })
                    .unwrap_or_default();
                let config = self.tracker.model().config().clone();
                // The old model goes first: a replay holds one model, even when seeking.
                self.tracker.restart(Model::new(config.clone()));
                let mut model = Model::new(config);
                model.seed(&snapshot);
                // Pins follow the events from the snapshot on, as if made then.
                let (pins, _) = self.tracker.pins_mut();
                let taken = self.tree.pins.take(pins);
                state.repin = self.tree.pins.remake(pins, &model, taken, false);
                self.restart(model, start_ns);
            }
            Report::Status(status) => {
                let before = std::mem::replace(&mut state.status, status.clone());
                let reselect = std::mem::take(&mut state.reselect);
                let repin = std::mem::take(&mut state.repin);
                let path = state.path.clone();
                if status.damaged > before.damaged {
                    let line = state.damage_line();
                    self.notice(line.unwrap_or_default());
                } else if status.ended && !before.ended && !status.closed_properly {
                    self.notice(format!(
                        "note: {path} was not closed properly (the recorder was killed or \
                         crashed); everything in it was replayed"
                    ));
                }
                if let Some(&key) = reselect
                    .iter()
                    .find(|&&key| self.tracker.model().in_tree(key))
                {
                    self.tree.cursor.key = Some(key);
                }
                if !repin.is_empty() {
                    let (pins, model) = self.tracker.pins_mut();
                    let gone = self.tree.pins.remake(pins, model, repin, true);
                    if !gone.is_empty() {
                        let pids: Vec<String> =
                            gone.iter().map(|(root, _)| root.pid.to_string()).collect();
                        let at = time_of_day(&self.clock, status.position.at_ns);
                        self.say(format!(
                            "unpinned {}: not in the tree at {at}",
                            pids.join(", ")
                        ));
                    }
                }
                self.tick(status.position.at_ns);
            }
        }
    }

    /// Where the replay is, if this is one.
    pub fn replay_status(&self) -> Option<&Status> {
        self.replay.as_ref().map(|r| &r.status)
    }

    /// The damage the replay met, as the one line the headless replay ends with.
    pub(super) fn replay_damage(&self) -> Option<String> {
        self.replay.as_ref()?.damage_line()
    }
}

impl ReplayState {
    fn damage_line(&self) -> Option<String> {
        let damage = self.status.damage.as_ref()?;
        let rest = if self.skip_damage {
            "the intact parts are replayed"
        } else {
            "everything before it was replayed (--skip-damage goes on after it)"
        };
        Some(format!("{} is {damage}; {rest}", self.path))
    }
}

/// The status line's segment for a replay: whether it plays, its speed, the time of day
/// it is at, and (unless `compact`) how far into the recording that is.
pub(super) fn status(app: &App, compact: bool) -> Option<Vec<Span<'static>>> {
    let state = app.replay.as_ref()?;
    let status = &state.status;
    let position = status.position;
    let mut spans = vec![
        if status.ended {
            "ended".bold()
        } else if status.paused {
            "paused".black().on_yellow()
        } else {
            "▶".green().bold()
        },
        format!(
            " {} {}",
            status.speed,
            time_of_day(&app.clock, position.at_ns)
        )
        .into(),
    ];
    if !compact {
        let at = position.at_ns.saturating_sub(position.start_ns);
        let length = position.end_ns.saturating_sub(position.start_ns);
        spans.push(
            format!(
                " ({} of {})",
                duration::elapsed(at),
                duration::elapsed(length)
            )
            .dark_gray(),
        );
    }
    if let Some(damage) = &status.damage {
        spans.push(format!(" damaged at byte {}", damage.offset).red().bold());
    }
    Some(spans)
}

/// `12:01:02.345`: to the millisecond, which is what stepping needs.
fn time_of_day(clock: &WallClock, ns: u64) -> String {
    let mut time = clock.time_of_day(ns);
    time.truncate("00:00:00.000".len());
    time
}

/// The recording time `text` names: a time of day as the replay shows it (`12:01:02`,
/// `12:01:02.5`, `12:01`), the one nearest `from_ns`; or `from_ns` moved by an offset
/// (`+30s`, `-1m`, `+1m30s`, `-500ms`, `+2h`; a bare number counts seconds).
fn seek_target(text: &str, clock: &WallClock, from_ns: u64) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a time: 12:01:02, +30s or -1m");
    if let Some(offset) = text.strip_prefix('+') {
        return Ok(from_ns.saturating_add(duration::parse(offset).ok_or_else(bad)?));
    }
    if let Some(offset) = text.strip_prefix('-') {
        return Ok(from_ns.saturating_sub(duration::parse(offset).ok_or_else(bad)?));
    }
    const DAY: i128 = 86_400 * SECOND as i128;
    let target = i128::from(day_ns(text).ok_or_else(bad)?);
    let now = i128::from(day_ns(&clock.time_of_day(from_ns)).ok_or_else(bad)?);
    // The nearest such time: a recording may run past midnight.
    let mut delta = target - now;
    if delta > DAY / 2 {
        delta -= DAY;
    } else if delta <= -DAY / 2 {
        delta += DAY;
    }
    Ok((i128::from(from_ns) + delta).max(0) as u64)
}

/// `HH:MM`, `HH:MM:SS`, `HH:MM:SS.ffffff`: nanoseconds after midnight.
fn day_ns(text: &str) -> Option<u64> {
    let mut parts = text.split(':');
    let hours: u64 = parts.next()?.parse().ok()?;
    let minutes: u64 = parts.next()?.parse().ok()?;
    let seconds_ns = match parts.next() {
        Some(s) if s.starts_with(|c: char| c.is_ascii_digit()) => duration::decimal(s, SECOND)?,
        Some(_) => return None,
        None => 0,
    };
    if parts.next().is_some() || hours > 23 || minutes > 59 || seconds_ns >= 60 * SECOND {
        return None;
    }
    Some((hours * 3_600 + minutes * 60) * SECOND + seconds_ns)
}

/// Plays a recording for the loop that owns the state (see the module documentation).
pub struct Player {
    replay: Box<Replay>,
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
    pub fn new(replay: Box<Replay>) -> Self {
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
    pub async fn next(&mut self) -> AppEvent {
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
            let playing = !self.replay.is_paused() && !ended;
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
                _ = self.ticks.tick(), if playing => return self.report(),
                else => std::future::pending::<()>().await,
            }
        }
    }

    /// Carries out a key's control; returns what the state must apply at once.
    pub async fn control(&mut self, control: Control) -> Vec<AppEvent> {
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

/// The next thing from `player`; never, without one.
pub async fn next(player: Option<&mut Player>) -> AppEvent {
    match player {
        Some(player) => player.next().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_offsets() {
        assert_eq!(duration::parse("30s"), Some(30 * SECOND));
        assert_eq!(duration::parse("30"), Some(30 * SECOND));
        assert_eq!(duration::parse("1m30s"), Some(90 * SECOND));
        assert_eq!(duration::parse("1.5m"), Some(90 * SECOND));
        assert_eq!(duration::parse("500ms"), Some(SECOND / 2));
        assert_eq!(duration::parse("2h"), Some(7_200 * SECOND));
        for bad in ["", "s", "10x", "1m-2s", "-3s", "nan"] {
            assert_eq!(duration::parse(bad), None, "{bad}");
        }
        assert_eq!(day_ns("01:02"), Some(3_720 * SECOND));
        assert_eq!(day_ns("01:02:03.5"), Some(3_723 * SECOND + SECOND / 2));
        for bad in [
            "1",
            "24:00",
            "12:60",
            "12:00:60",
            "12:00:00:00",
            "a:b",
            "12:00:-1",
        ] {
            assert_eq!(day_ns(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_time_of_day_is_the_nearest_one() {
        // Boot time 0 is midnight UTC; offsets are then the local time zone's.
        let clock = WallClock::with_offset(1_768_435_200 * i128::from(SECOND));
        let shown = |ns| clock.time_of_day(ns);
        let from = 3_600 * SECOND;
        let plus = |ns: u64| shown(from + ns)[..8].to_owned();
        assert_eq!(seek_target("+30s", &clock, from), Ok(from + 30 * SECOND));
        assert_eq!(seek_target("-1m", &clock, from), Ok(from - 60 * SECOND));
        assert_eq!(
            seek_target(&plus(90 * SECOND), &clock, from),
            Ok(from + 90 * SECOND)
        );
        // Eleven hours earlier is earlier, not thirteen hours later.
        let earlier = shown(from + 13 * 3_600 * SECOND)[..8].to_owned();
        assert_eq!(
            seek_target(&earlier, &clock, from + 24 * 3_600 * SECOND),
            Ok(from + 13 * 3_600 * SECOND)
        );
        assert_eq!(
            seek_target("soon", &clock, from),
            Err("`soon` is not a time: 12:01:02, +30s or -1m".to_owned())
        );
    }
}
