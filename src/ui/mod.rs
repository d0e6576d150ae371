//! The terminal UI: `forkwatch-tui` without a subcommand.
//!
//! - [`app`]: the state ([`App`]) and [`update`], the one function that changes it, by
//!   what happens to it ([`AppEvent`], in [`message`] with what the state asks of the
//!   loop). It keeps the routing of keys, which pane has them, the dialog open, and the
//!   [`crate::tracker::Tracker`] whose processes, pins and relay rules it shows.
//! - `component`: what a pane or a dialog is to the application: the `Component` trait
//!   (its keys, its drawing), the `View` of the application it reads, and what it asks
//!   of the application (`Ask`) instead of changing it.
//! - `panes`: the tree and the panes beside and below it (details, events, pins,
//!   relays), each a component owning its state, keys and drawing, and the one list of
//!   them (`panes::PANES`) a new pane is added to.
//! - [`dialog`] (help, prompts), `mask`, `relay_dialog`, `signal_dialog` (`k`: a signal
//!   to the selected or tagged processes) and `user_dialog` (`u`): the dialogs,
//!   components too.
//! - `tags`: the processes tagged with Space, signalled and pinned together.
//! - `rows` and `search`: the tree as the rows shown (folds, kernel threads, the filter,
//!   one user's processes, pinned subtrees only, or a flat list) and the search
//!   that ignores case.
//! - `render` (the layout), `status` (the status line and what feeds the application) and
//!   `format`: drawing, a pure function of the state (`impl Widget for &App`), so screens
//!   are tested on ratatui's `TestBackend`.
//! - `pins` and `relays`: what the UI keeps of pins (the pinned-only view) and relay rules
//!   (their notices), and their status segments; `history`: what it keeps of what
//!   happened (the event rate, the latest events, the relay rules' notices).
//! - [`look`]: the tree's columns, the styles of what it marks, and colour or none
//!   (`NO_COLOR`), as the config file sets them.
//! - [`keys`]: the key bindings of the tree view, one table of named actions; [`keymap`]:
//!   the keys in use, the table's or with a user's overrides, which the help shows.
//! - [`feed`]: where the loop's events come from, live or replayed, through one interface.
//! - [`runtime`]: the tasks that feed one channel (terminal input, a timer, signals) and
//!   the loop that owns the state, reads the feed, does what the state asks (the UI's
//!   driver: relay signals and targets, /proc snapshots, replay controls, user names) and
//!   draws.
//! - [`replay`]: `replay FILE` in the UI: the player (the recording as a feed) and the
//!   replay controls (keys, seek prompt, status segment).
//! - [`record`]: `--record FILE`: the tee that records what the live UI applies.
//! - `terminal`: the real terminal, always given back; `users`: user names, looked up by
//!   the loop before a frame.

pub mod app;
pub mod columns_dialog;
mod component;
pub mod dialog;
pub mod feed;
mod format;
mod history;
pub mod keymap;
pub mod keys;
pub mod look;
mod mask;
pub mod message;
mod panes;
mod pins;
pub mod record;
mod relay_dialog;
mod relays;
mod render;
pub mod replay;
mod rows;
pub mod runtime;
mod search;
mod signal_dialog;
mod sort;
mod status;
mod tags;
mod terminal;
mod user_dialog;
pub mod users;

use std::{io::IsTerminal, path::PathBuf, process::ExitCode};

use anyhow::{Context, Result, anyhow, bail};
use tokio::{
    sync::mpsc::{Receiver, Sender},
    task::{LocalSet, spawn_local},
};

pub use app::{App, update};
pub use feed::SourceInfo;
pub use message::AppEvent;
pub use rows::{TreeOptions, TreeView};
pub use runtime::{Screen, Session, draw, step};
pub use users::Users;

use self::{
    feed::{LiveFeed, UiFeed},
    record::Recording,
};

use crate::{
    clock::{self, WallClock},
    private_file::Existing,
    privileges,
    proc::snapshot,
    relay,
    signals::StopSignals,
    source::{Feed, LiveOptions, Source},
    text,
    tracker::{model::Model, rules::RuleSpec},
};

/// What the terminal UI starts with, besides its source.
#[derive(Clone, Debug, Default)]
pub struct UiOptions {
    /// Processes whose subtrees start pinned.
    pub pins: Vec<u32>,
    /// Relay rules to start with, as `relay`'s flags joined by colons.
    pub relays: Vec<String>,
    /// Record what the UI shows to this file (replaced if it exists).
    pub record: Option<PathBuf>,
    /// The tree's columns, the styles, colour or none.
    pub look: look::Look,
    /// The model's limits: how long exited processes stay.
    pub model: crate::tracker::model::Config,
    /// The keys, with the config file's `[keys]`.
    pub keymap: keymap::Keymap,
    /// Show only the processes in this container or cgroup, and their ancestors.
    pub place: Option<crate::event::container::PlaceFilter>,
    /// Where the columns chosen in the UI are saved (the config file).
    pub columns_saver: Option<columns_dialog::ColumnsSaver>,
}

/// The `--relay` rules, parsed; the first bad one is the error.
fn relay_rules(specs: &[String]) -> Result<Vec<RuleSpec>> {
    specs
        .iter()
        .map(|spec| {
            spec.parse::<RuleSpec>()
                .map_err(|e| anyhow!("--relay {spec}: {e}"))
        })
        .collect()
}

/// Opens the live source, seeds the model from /proc, makes the pins and relay rules asked
/// for, starts the recording if asked, and runs the UI until it quits. Whatever fails
/// before the UI takes the terminal (a bad `--relay`, an unknown `--pin`, a recording that
/// cannot be created) is an error on the normal terminal.
pub async fn run(mut live: LiveOptions, ui: &UiOptions) -> Result<ExitCode> {
    let rules = relay_rules(&ui.relays)?;
    // As the `relay` command does, for signals well within a millisecond of their event.
    // Rules made later in the UI find the probe as it was loaded.
    if !rules.is_empty() {
        live.probe.wakeup_gap = relay::WAKEUP_GAP;
    }
    // For rules sent in the kernel, made now or later; with no rule it costs each event
    // one map lookup.
    live.probe.kernel_relay = true;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        bail!(
            "the terminal UI needs a terminal on stdin and stdout; \
             `forkwatch-tui events` prints events instead"
        );
    }
    let stop = StopSignals::catch()?;
    // The source first, then /proc: what happens while /proc is read is queued in the
    // source and joins the snapshot in the model.
    let (mut source, selection) = Source::open_live(&live)?;
    let kernel_relay = source.take_kernel_relay();
    // Made before privileges are given up, but emptied only once the pins and rules asked
    // for are made: a mistake in them leaves an existing file as it was.
    let file = ui
        .record
        .as_deref()
        .map(|path| crate::recording::create(path, Existing::Keep).map(|file| (file, path)))
        .transpose()?;
    // Before /proc is read. Relay rules can be made at any time, for targets of any user.
    // Before the recorder's thread starts, so that it has no more.
    privileges::keep_only(privileges::SIGNAL_ANY_PROCESS | privileges::READ_ANY_PROCESS)?;
    let start_ns = clock::boottime_ns();
    let snapshot = snapshot::take().context("cannot read /proc")?;
    let mut model = Model::new(ui.model.clone());
    model.seed(&snapshot);
    let mut app = App::new(
        model,
        SourceInfo::live(&selection),
        WallClock::now(),
        clock::boottime_ns(),
        Users::system(),
    );
    app.targets = relay::Targets::with_kernel_relay(kernel_relay);
    app.set_look(ui.look.clone());
    app.tree.options.place = ui.place.clone();
    app.set_keymap(ui.keymap.clone());
    if let Some(saver) = &ui.columns_saver {
        app.set_columns_saver(saver.clone());
    }
    for &pid in &ui.pins {
        app.pin_pid(pid)?;
    }
    for (rule, spec) in rules.into_iter().zip(&ui.relays) {
        app.add_relay(rule)
            .map_err(|e| anyhow!("--relay {spec}: {e:#}"))?;
    }
    // The snapshot the model started from: a replay starts from it too.
    let recording = file
        .map(|(file, path)| {
            file.set_len(0).with_context(|| {
                format!("cannot empty the recording {}", text::escape_path(path))
            })?;
            Recording::create(file, path, source.name(), start_ns, &snapshot)
        })
        .transpose()?;
    drop(snapshot);
    app.recording = recording.as_ref().map(Recording::status);
    LocalSet::new()
        .run_until(async {
            let channel = runtime::channel();
            let feed = LiveFeed::spawn(source, &channel.0);
            serve(app, Box::new(feed), channel, stop, recording).await
        })
        .await
}

/// Runs `app` on the real terminal, fed by `feed` and what comes down `channel`, and
/// writes `recording` if given; then ends the recording.
pub async fn serve(
    mut app: App,
    feed: Box<dyn UiFeed>,
    (sender, mut events): (Sender<AppEvent>, Receiver<AppEvent>),
    stop: StopSignals,
    recording: Option<Recording>,
) -> Result<ExitCode> {
    let mut session = Session {
        feed: Some(feed),
        recording,
    };
    let ended = match terminal::LiveScreen::enter() {
        Ok(mut screen) => {
            spawn_local(runtime::feed_input(sender.clone()));
            spawn_local(runtime::feed_stop(stop, sender.clone()));
            let ended =
                runtime::run(&mut screen, &mut app, &mut events, &sender, &mut session).await;
            // The terminal is given back before anything is said on it.
            drop(screen);
            ended
        }
        Err(e) => Err(e),
    };
    // The recording gets its end, even if the terminal could not be taken.
    record::end_recording(ended, session.recording)?;
    if let Some(why) = app.take_error() {
        bail!(why);
    }
    if let Some(damage) = app.replay_damage() {
        bail!(damage);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests;
