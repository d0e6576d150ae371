//! `forkwatch-tui replay FILE` in the terminal UI: the same application and loop, fed by
//! a recording instead of a live source.
//!
//! - `player`: [`Player`], the recording as the UI's feed
//!   ([`UiFeed`](super::feed::UiFeed)), played inside the loop so that the controls act
//!   at once; what it tells the state ([`Report`], [`Status`]) and what the keys ask of it
//!   ([`Control`]).
//! - `controls`: [`ReplayControls`], the part of the application a replay adds: its keys,
//!   the seek prompt's hook, its status segment and damage line.
//! - `seek`: the times a replay shows and is sought to.

mod controls;
mod player;
mod seek;

use std::{path::PathBuf, process::ExitCode};

use anyhow::Result;
use tokio::task::LocalSet;

pub use controls::{NOT_LIVE, REPLAY_BINDINGS, ReplayControls};
pub use player::{Control, Player, Report, Status};

use super::{App, SourceInfo, Users};
use crate::{
    recording::{self, Info, Replay},
    remote::RemoteOptions,
    signals::StopSignals,
    source::Backend,
    text,
    tracker::model::{self, Model},
};

/// How to replay a file in the terminal UI.
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// The recordings: several are merged into one view; `-` is standard input,
    /// replayed as it arrives.
    pub files: Vec<PathBuf>,
    /// Replay the file as it is written.
    pub follow: bool,
    /// Go on after damage, from the next intact part of the file.
    pub skip_damage: bool,
    /// The tree's columns, the styles, colour or none.
    pub look: super::look::Look,
    /// The model's limits: how long exited processes stay.
    pub model: model::Config,
    /// The keys, with the config file's `[keys]`.
    pub keymap: super::keymap::Keymap,
    /// Show only the processes in this container or cgroup, and their ancestors.
    pub place: Option<crate::event::container::PlaceFilter>,
}

/// Opens `options.files` in the terminal UI and runs it until it quits. A file that cannot
/// be replayed is an error before the terminal is taken. Damage met on the way is shown,
/// and after the UI, said once more with a non-zero exit, as the headless replay does.
pub async fn run(options: &ReplayOptions) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let path = recording::describe(&options.files);
    let opened = recording::open_any(
        &options.files,
        options.follow,
        options.skip_damage,
        Model::for_keyframes,
        &mut stop,
    );
    let Some(opened) = opened.await? else {
        return Ok(ExitCode::FAILURE);
    };
    // Before the terminal is taken, and once more after it.
    recording::say_damaged(&opened.damaged);
    let mut replay = opened.replay;
    replay.skip_damage(options.skip_damage);
    let app = start(
        &path,
        &replay,
        options.skip_damage,
        users_of(&replay),
        options.model.clone(),
    );
    let status = view(app, replay, options, stop).await?;
    recording::say_damaged(&opened.damaged);
    recording::after_damaged(&opened.damaged)?;
    Ok(status)
}

/// Views the recordings of `destinations` as they arrive over ssh (`--remote`), in the
/// terminal UI of a replay (several merged, each host under its own root): a stream that
/// breaks is said, and the UI stays with what arrived. What keeps it from starting (ssh's
/// errors, a remote command that fails) is one line before the terminal is taken.
pub async fn run_remote(
    destinations: &[String],
    remote: &RemoteOptions,
    options: &ReplayOptions,
) -> Result<ExitCode> {
    let mut stop = StopSignals::catch()?;
    let viewed = crate::remote::view_all(destinations, remote, &mut stop).await?;
    let Some((replay, connection)) = viewed else {
        return Ok(ExitCode::FAILURE);
    };
    let host = text::escape_str(&destinations.join(", ")).into_owned();
    let mut app = start(
        &host,
        &replay,
        false,
        users_of(&replay),
        options.model.clone(),
    );
    app.source.name = format!("remote {host}");
    app.replay = Some(ReplayControls::remote(&host, &replay));
    let code = view(app, replay, options, stop).await;
    drop(connection);
    code
}

/// The names of the recording's users: those of this machine for a recording made here,
/// none for another's (or several hosts'), where a uid names someone else.
fn users_of(replay: &Replay) -> Users {
    if Info::here(&replay.info().backend, 0).host == replay.info().host {
        Users::system()
    } else {
        Users::with_lookup(|_| None)
    }
}

/// Runs `app` on `replay` until it quits, looking and taking keys as `options` say.
async fn view(
    mut app: App,
    replay: Replay,
    options: &ReplayOptions,
    stop: StopSignals,
) -> Result<ExitCode> {
    app.tree.look = options.look.clone();
    app.tree.options.place = options.place.clone();
    app.set_keymap(options.keymap.clone());
    LocalSet::new()
        .run_until(async {
            let player = Player::new(replay);
            super::serve(app, Box::new(player), super::runtime::channel(), stop, None).await
        })
        .await
}

/// The application at the start of `replay` of the file `path`, with its controls: the
/// recording's snapshot (in a model of these limits), its clock and its backend.
pub fn start(
    path: &str,
    replay: &Replay,
    skip_damage: bool,
    users: Users,
    limits: model::Config,
) -> App {
    let info = replay.info();
    let mut model = Model::new(limits);
    model.seed(replay.snapshot());
    let limited = info.backend != Backend::Ebpf.name();
    let name = match info.hosts.len() {
        0 => "replay".to_owned(),
        n => format!("replay of {n} hosts"),
    };
    let name = if limited {
        format!("{name} ({})", text::escape_str(&info.backend))
    } else {
        name
    };
    let source = SourceInfo {
        name,
        notices: Vec::new(),
        limited,
    };
    let mut app = App::new(model, source, info.wall_clock(), info.start_ns, users);
    app.replay = Some(ReplayControls::new(path, replay, skip_damage));
    app.say(info.to_string());
    app
}
