//! The replay controls: the part of the application a replay adds. [`ReplayControls`]
//! owns what the application knows of the replay (where the player last said it is, the
//! damage it met, what a seek back must restore), its keys ([`REPLAY_BINDINGS`], asked of
//! the feed as [`Request::Replay`]), the seek prompt's hook, its status line segment and
//! the damage line said after the UI. Live, there are none, and the keys only say what
//! they are for ([`NOT_LIVE`]).

use crate::event::host::shown_pid;
use std::iter;

use ratatui::{style::Stylize, text::Span};

use super::{
    player::{Control, Report, Status},
    seek::time_of_day,
};
use crate::{
    clock::WallClock,
    event::{KindSet, ProcessKey, duration},
    recording::{Replay, StreamEnd, moment::seek_target},
    text,
    tracker::model::Model,
    ui::{
        app::App,
        dialog::{Prompt, PromptPurpose},
        keys::{Action, Binding, Key::Char, bind},
        message::Request,
    },
};

/// What the replay keys say live.
pub const NOT_LIVE: &str =
    "s [ ] . t { } play a recording (forkwatch-tui replay FILE); this is live";

/// Seeks by `{` and `}`: ten seconds of the recording.
const JUMP_NS: i64 = 10_000_000_000;

/// The keys of a replay: looked up with the tree view's, listed in the help only in a
/// replay.
pub const REPLAY_BINDINGS: &[Binding] = &[
    bind(
        "play-pause",
        &[Char('s')],
        "s",
        "pause or play the replay",
        Action::Replay(Control::PlayPause),
    ),
    bind(
        "slower",
        &[Char('[')],
        "[",
        "slower (down to 1/4x)",
        Action::Replay(Control::Slower),
    ),
    bind(
        "faster",
        &[Char(']')],
        "]",
        "faster (up to 64x, then max)",
        Action::Replay(Control::Faster),
    ),
    bind(
        "step",
        &[Char('.')],
        ".",
        "one event (pauses)",
        Action::Replay(Control::Step),
    ),
    bind(
        "seek-to",
        &[Char('t')],
        "t",
        "seek to a time: 12:01:02, +30s, -1m",
        Action::SeekPrompt,
    ),
    bind(
        "seek-back",
        &[Char('{')],
        "{",
        "back 10 s",
        Action::Replay(Control::SeekBy(-JUMP_NS)),
    ),
    bind(
        "seek-forward",
        &[Char('}')],
        "}",
        "forward 10 s",
        Action::Replay(Control::SeekBy(JUMP_NS)),
    ),
];

/// A replay as the application knows it, with its keys and drawing.
pub struct ReplayControls {
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
    /// The host of a remote view (`--remote`), escaped.
    remote: Option<String>,
}

impl ReplayControls {
    /// The controls of `replay` of the file `path`, at its start.
    pub fn new(path: &str, replay: &Replay, skip_damage: bool) -> Self {
        Self {
            path: path.to_owned(),
            status: Status::of(replay, false),
            skip_damage,
            reselect: Vec::new(),
            repin: Vec::new(),
            remote: None,
        }
    }

    /// The controls of a remote view of `host` (escaped), its recording arriving over ssh.
    pub fn remote(host: &str, replay: &Replay) -> Self {
        Self {
            remote: Some(host.to_owned()),
            ..Self::new(&format!("the stream from {host}"), replay, false)
        }
    }

    /// Why `what` (signals, relays) cannot be done here, in one line: the processes shown
    /// are not this machine's.
    pub fn refusal(&self, what: &str) -> String {
        match &self.remote {
            Some(host) => {
                format!(
                    "no {what} on a remote view: its processes are {host}'s, not this machine's"
                )
            }
            None => format!("no {what} in a replay: its processes are not this machine's"),
        }
    }

    /// Where the replay is, as the player last said.
    pub fn state(&self) -> &Status {
        &self.status
    }

    /// A key of [`REPLAY_BINDINGS`]: a control asked of the feed, or the seek prompt.
    pub(in crate::ui) fn key(&self, action: Action, app: &mut App) {
        match action {
            Action::Replay(control) => app.requests.push(Request::Replay(control)),
            Action::SeekPrompt => app.open(Prompt::new(PromptPurpose::Seek, &app.tree)),
            _ => {}
        }
    }

    /// The seek prompt's Enter: seeks to what was typed, or says why it cannot.
    pub(in crate::ui) fn seek_to_text(&self, text: &str, app: &mut App) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let position = self.status.position;
        let target = match seek_target(text, &app.clock, position.at_ns) {
            Ok(target) => target,
            Err(why) => {
                app.say(why);
                return;
            }
        };
        if target < position.start_ns {
            let start = time_of_day(&app.clock, position.start_ns);
            app.say(format!(
                "{text} is before the recording, which starts at {start}"
            ));
        } else if target > position.end_ns {
            let end = time_of_day(&app.clock, position.end_ns);
            app.say(format!(
                "{text} is after the recording, which ends at {end}"
            ));
        }
        app.requests.push(Request::Replay(Control::SeekTo(target)));
    }

    /// What the player said. Returns the time the application is to tick to once the
    /// controls are back in it: a replay's clock is its position.
    pub(in crate::ui) fn report(&mut self, report: Report, app: &mut App) -> Option<u64> {
        match report {
            Report::Rewound { snapshot, start_ns } => {
                self.reselect = app
                    .tree
                    .cursor
                    .key
                    .map(|key| {
                        iter::once(key)
                            .chain(app.tracker.model().ancestry(key).iter().map(|p| p.key))
                            .collect()
                    })
                    .unwrap_or_default();
                let config = app.tracker.model().config().clone();
                // The old model goes first: a replay holds one model, even when seeking.
                app.tracker.restart(Model::new(config.clone()));
                let mut model = Model::new(config);
                model.seed(&snapshot);
                // Pins follow the events from the snapshot on, as if made then.
                let (pins, _) = app.tracker.pins_mut();
                let taken = app.tree.pins.take(pins);
                self.repin = app.tree.pins.remake(pins, &model, taken, false);
                app.restart(model, start_ns);
                None
            }
            Report::Status(status) => {
                let at_ns = status.position.at_ns;
                self.moved(status, app);
                Some(at_ns)
            }
        }
    }

    /// The replay is at `status`: says what it met, and after a rewind, restores the
    /// selection and the pins.
    fn moved(&mut self, status: Status, app: &mut App) {
        let before = std::mem::replace(&mut self.status, status.clone());
        if let (Some(end), None) = (&status.stream_end, &before.stream_end) {
            app.notice(stream_end_line(end));
        } else if status.damaged > before.damaged {
            app.notice(self.damage_line().unwrap_or_default());
        } else if status.ended && !before.ended && !status.closed_properly {
            app.notice(format!(
                "note: {} was not closed properly (the recorder was killed or \
                 crashed); everything in it was replayed",
                self.path
            ));
        }
        let reselect = std::mem::take(&mut self.reselect);
        if let Some(&key) = reselect
            .iter()
            .find(|&&key| app.tracker.model().in_tree(key))
        {
            app.tree.cursor.key = Some(key);
        }
        let repin = std::mem::take(&mut self.repin);
        if !repin.is_empty() {
            let (pins, model) = app.tracker.pins_mut();
            let gone = app.tree.pins.remake(pins, model, repin, true);
            if !gone.is_empty() {
                let pids: Vec<String> = gone
                    .iter()
                    .map(|(root, _)| shown_pid(root.pid).to_string())
                    .collect();
                let at = time_of_day(&app.clock, status.position.at_ns);
                app.say(format!(
                    "unpinned {}: not in the tree at {at}",
                    pids.join(", ")
                ));
            }
        }
    }

    /// The damage the replay met, as the one line the headless replay ends with.
    pub fn damage_line(&self) -> Option<String> {
        let damage = self.status.damage.as_ref()?;
        let rest = if self.skip_damage {
            "the intact parts are replayed"
        } else {
            "everything before it was replayed (--skip-damage goes on after it)"
        };
        Some(format!("{} is {damage}; {rest}", self.path))
    }

    /// The status line's segment: whether it plays, its speed, the time of day it is at
    /// (through `clock`), and (unless `compact`) how far into the recording that is.
    pub fn status(&self, clock: &WallClock, compact: bool) -> Vec<Span<'static>> {
        let status = &self.status;
        let position = status.position;
        let mut spans = vec![
            if let (true, Some(end)) = (status.ended, &status.stream_end) {
                stream_end_span(end)
            } else if status.ended {
                "ended".bold()
            } else if status.paused {
                "paused".black().on_yellow()
            } else {
                "▶".green().bold()
            },
            format!(" {} {}", status.speed, time_of_day(clock, position.at_ns)).into(),
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
        // Said once known, while what arrived before is still being played.
        match &status.stream_end {
            None if status.following => spans.push(" arriving".cyan()),
            Some(end) if !status.ended => spans.extend([" ".into(), stream_end_span(end)]),
            _ => {}
        }
        if let Some(damage) = &status.damage {
            spans.push(format!(" damaged at byte {}", damage.offset).red().bold());
        }
        spans
    }
}

/// How a stream ended, in the status line.
fn stream_end_span(end: &StreamEnd) -> Span<'static> {
    match end {
        StreamEnd::Ended => "stream ended".bold(),
        StreamEnd::Broke(_) => "stream broke".white().on_red().bold(),
    }
}

/// What the UI says when a stream (or a followed file) came to its end; what arrived
/// stays shown.
fn stream_end_line(end: &StreamEnd) -> String {
    match end {
        StreamEnd::Ended => "the stream ended: the recorder stopped properly".to_owned(),
        StreamEnd::Broke(reason) => format!(
            "the stream broke: {}; what arrived stays shown",
            text::escape_str(reason)
        ),
    }
}
