//! The loop that owns the [`App`]: it reads one feed of events ([`UiFeed`]: a live
//! source or a replay), and every other source of [`AppEvent`]s (the terminal, a timer,
//! signals) is a task that sends into one channel; the loop applies them with [`update`],
//! carries out what the state asks for, and draws when something changed, at most
//! [`FRAMES_PER_SECOND`] times a second. A recording is written from it (see [`Session`]).
//!
//! This is the UI's driver: what touches the outside world for the state is done here.
//! Right after each update ([`step`]) it sends the relay signals the tracker asked for,
//! checks which relay targets exited, answers the relay dialog and sends the signal the
//! user chose in the signal dialog (through pidfds: `relay::signal`); then it takes /proc
//! snapshots and hands the replay controls to the feed as asked; before each frame it
//! looks up the user names the frame shows.

use std::{future::poll_fn, pin::Pin, time::Duration};

use anyhow::Result;
use crossterm::event::EventStream;
use futures_core::Stream;
use ratatui::{Terminal, backend::Backend};
use tokio::{
    sync::mpsc::{self, Receiver, Sender},
    time::{Instant, MissedTickBehavior},
};

use super::{
    app::{App, update},
    feed::UiFeed,
    message::{AppEvent, Done, Effect, Request},
    record::Recording,
    relay_dialog::{Answer, Ask},
};
use crate::{
    proc::snapshot,
    relay::{self, Targets},
    signals::StopSignals,
    source::Filtering,
    tracker::Tracker,
};

pub const FRAMES_PER_SECOND: u32 = 30;
/// How often time is told to the application: often enough for a highlight or a linger
/// to end on time, and for the event rate to roll over each second.
pub const TICK: Duration = Duration::from_millis(250);
/// Messages queued in the channel of keys, ticks and signals at most.
const CHANNEL: usize = 1024;
/// Events applied between two looks at whether a frame is due.
const BURST: usize = 256;

/// Where frames go: the real terminal, or a test backend.
pub trait Screen {
    fn draw(&mut self, app: &mut App) -> Result<()>;
}

impl<B: Backend> Screen for Terminal<B>
where
    B::Error: Send + Sync + 'static,
{
    fn draw(&mut self, app: &mut App) -> Result<()> {
        draw(self, app)?;
        Ok(())
    }
}

/// Draws one frame of `app` on `terminal`, with the user names it shows looked up first.
pub fn draw<B: Backend>(terminal: &mut Terminal<B>, app: &mut App) -> Result<(), B::Error> {
    terminal.draw(|frame| {
        for uid in app.prepare(frame.area()) {
            app.users.resolve(uid);
        }
        frame.render_widget(&*app, frame.area());
    })?;
    Ok(())
}

/// What the loop does with each message: [`update`], then at once the effects the update
/// asked for.
pub fn step(app: &mut App, event: AppEvent) {
    update(app, event);
    perform(app);
    let counted = app.targets.kernel_counts(false);
    if !counted.is_empty() {
        update(app, AppEvent::Done(Done::CountedInKernel(counted)));
    }
}

/// Does what the state asked that does not wait, and hands back what came of it; what
/// that update asks in turn too.
fn perform(app: &mut App) {
    loop {
        let effects = app.take_effects();
        if effects.is_empty() {
            return;
        }
        for effect in effects {
            let done = match effect {
                Effect::Relay(signals) => Done::Delivered(app.targets.send(&signals)),
                Effect::CheckRelayTargets => {
                    // The kernel's last counts for them, before their entries are emptied.
                    let counted = app.targets.kernel_counts(true);
                    if !counted.is_empty() {
                        update(app, AppEvent::Done(Done::CountedInKernel(counted)));
                    }
                    Done::TargetsExited(app.targets.take_exited())
                }
                Effect::CloseRelayTargets(targets) => {
                    app.targets.close(&targets);
                    continue;
                }
                Effect::Signal(signalling) => {
                    let sent = signalling
                        .targets
                        .iter()
                        .map(|target| relay::signal(target.key, signalling.signal))
                        .collect();
                    Done::Signalled(signalling, sent)
                }
                Effect::SaveColumns(columns) => Done::ColumnsSaved(match &app.columns_saver {
                    Some(saver) => saver.save(&columns),
                    None => Err("the columns are used until forkwatch ends: \
                                 there is no config file to save them in"
                        .to_owned()),
                }),
                Effect::RelayDialog(dialog, ask) => {
                    let answer = answer(ask, &mut app.targets, &app.tracker);
                    Done::RelayDialog(dialog, answer)
                }
            };
            update(app, AppEvent::Done(done));
        }
    }
}

/// What the relay dialog asked: the processes typed pids name now, or its rule opened.
fn answer(ask: Ask, targets: &mut Targets, tracker: &Tracker) -> Answer {
    match ask {
        Ask::Hold(pids) => Answer::Held(
            pids.into_iter()
                .map(|pid| (pid, relay::pick(pid).ok()))
                .collect(),
        ),
        Ask::Make(spec, picks) => Answer::Made(
            targets
                .open(tracker, spec, &picks)
                .map_err(|e| format!("{e:#}")),
        ),
    }
}

/// The channel the tasks other than a live source's send into.
pub fn channel() -> (Sender<AppEvent>, Receiver<AppEvent>) {
    mpsc::channel(CHANNEL)
}

/// What the loop drives itself, besides the channel.
#[derive(Default)]
pub struct Session {
    /// Where the events come from, live or replayed.
    pub feed: Option<Box<dyn UiFeed>>,
    /// `--record`: sees every event before the state does.
    pub recording: Option<Recording>,
}

impl Session {
    fn apply(&mut self, app: &mut App, event: AppEvent) {
        if let Some(status) = self.recording.as_mut().and_then(|r| r.tee(&event)) {
            step(app, status);
        }
        step(app, event);
    }
}

/// Runs the application until it quits or every sender is gone. Must run inside a
/// `LocalSet` if a task it feeds from needs one.
pub async fn run(
    screen: &mut impl Screen,
    app: &mut App,
    events: &mut Receiver<AppEvent>,
    sender: &Sender<AppEvent>,
    session: &mut Session,
) -> Result<()> {
    let frame = Duration::from_secs(1) / FRAMES_PER_SECOND;
    let mut last_frame: Option<Instant> = None;
    while !app.should_quit() {
        let next_frame = app
            .needs_redraw()
            .then(|| last_frame.map_or_else(Instant::now, |last| last + frame));
        tokio::select! {
            biased;
            () = tokio::time::sleep_until(next_frame.unwrap_or_else(Instant::now)),
                if next_frame.is_some() =>
            {
                screen.draw(app)?;
                last_frame = Some(Instant::now());
            }
            () = app.relay_target_exited() => step(app, AppEvent::RelayTargetExited),
            event = events.recv() => {
                let Some(event) = event else { break };
                session.apply(app, event);
                for _ in 0..BURST {
                    match events.try_recv() {
                        Ok(event) => session.apply(app, event),
                        Err(_) => break,
                    }
                }
            }
            event = next_from(session.feed.as_mut()) => session.apply(app, event),
        }
        for request in app.take_requests() {
            match request {
                Request::Snapshot => {
                    let sender = sender.clone();
                    tokio::task::spawn_blocking(move || {
                        let snapshot = snapshot::take().map_err(|e| e.to_string());
                        let _ = sender.blocking_send(AppEvent::Snapshot(snapshot));
                    });
                }
                Request::Replay(control) => {
                    if let Some(feed) = &mut session.feed {
                        for event in feed.control(control).await {
                            session.apply(app, event);
                        }
                    }
                }
                Request::Follow if session.recording.is_some() => {
                    let why = "the recording needs every event".to_owned();
                    step(app, AppEvent::Filtering(Filtering::UserSpace(why)));
                }
                Request::Follow => {
                    if let Some(feed) = &mut session.feed {
                        feed.follow_only(app.subtrees_to_follow());
                    }
                }
            }
        }
    }
    Ok(())
}

/// The next message of `feed`; never, without one.
async fn next_from(feed: Option<&mut Box<dyn UiFeed>>) -> AppEvent {
    match feed {
        Some(feed) => feed.next().await,
        None => std::future::pending().await,
    }
}

/// Sends keys, mouse actions and resizes.
pub async fn feed_input(sender: Sender<AppEvent>) {
    let mut input = EventStream::new();
    while let Some(event) = poll_fn(|cx| Pin::new(&mut input).poll_next(cx)).await {
        let event = match event {
            Ok(event) => AppEvent::Input(event),
            Err(e) => AppEvent::SourceFailed(format!("cannot read the terminal: {e}")),
        };
        if sender.send(event).await.is_err() {
            return;
        }
    }
}

/// Sends the time ([`crate::clock::boottime_ns`]) every [`TICK`].
pub async fn feed_ticks(sender: Sender<AppEvent>) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let now = crate::clock::boottime_ns();
        if sender.send(AppEvent::Tick(now)).await.is_err() {
            return;
        }
    }
}

/// Sends [`AppEvent::Stop`] on SIGINT or SIGTERM.
pub async fn feed_stop(mut signals: StopSignals, sender: Sender<AppEvent>) {
    signals.recv().await;
    let _ = sender.send(AppEvent::Stop).await;
}

#[cfg(test)]
mod tests {
    use crossterm::event::{Event as Input, KeyCode, KeyEvent, KeyModifiers};
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::{
        clock::WallClock,
        event::{Comm, Event, Kind},
        tracker::model::Model,
        ui::{
            feed::{LiveFeed, SOURCE_CHANNEL, SourceInfo, source_channel},
            users::Users,
        },
    };

    fn fork(pid: u32) -> AppEvent {
        AppEvent::Events(vec![Event {
            ts_ns: u64::from(pid),
            pid,
            tid: pid,
            ppid: 1,
            start_ns: u64::from(pid),
            comm: Comm::from("storm"),
            creds: None,
            cgroup_id: None,
            pid_ns: None,
            cgroup: None,
            kernel_thread: false,
            kind: Kind::Fork,
        }])
    }

    /// A source that always has more never holds up a key: `q` is taken before the
    /// batches queued ahead of it, and the loop ends while the source still sends.
    #[tokio::test]
    async fn a_key_gets_through_a_source_that_always_has_more() {
        let mut app = App::new(
            Model::default(),
            SourceInfo::default(),
            WallClock::now(),
            0,
            Users::system(),
        );
        let (sender, mut events) = channel();
        let (source_sender, source_events) = source_channel();
        for pid in 1000..1000 + SOURCE_CHANNEL as u32 {
            source_sender.send(fork(pid)).await.unwrap();
        }
        let q = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        sender.send(AppEvent::Input(Input::Key(q))).await.unwrap();
        let storm = tokio::spawn(async move {
            let mut pid = 2000;
            while source_sender.send(fork(pid)).await.is_ok() {
                pid += 1;
            }
        });
        let mut session = Session {
            feed: Some(Box::new(LiveFeed::from(source_events))),
            ..Session::default()
        };
        let mut screen = Terminal::new(TestBackend::new(80, 10)).unwrap();
        tokio::time::timeout(
            Duration::from_secs(30),
            run(&mut screen, &mut app, &mut events, &sender, &mut session),
        )
        .await
        .expect("the loop did not end on q")
        .unwrap();
        assert!(app.should_quit());
        assert_eq!(app.model().counts().alive, 0, "batches were taken before q");
        assert!(!storm.is_finished(), "the source stopped sending");
        storm.abort();
    }
}
