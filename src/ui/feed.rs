//! Where the loop's events come from: one interface ([`UiFeed`]) whether live or
//! replayed, so that the loop drives either the same way, and what the application shows
//! of it ([`SourceInfo`]). A live source is read in a task
//! of its own ([`LiveFeed`]); a recording is played by the loop itself
//! ([`Player`](super::replay::Player)), so that its controls act at once.

use std::{future::Future, pin::Pin};

use tokio::{
    sync::mpsc::{self, Receiver, Sender, UnboundedReceiver, UnboundedSender},
    task::spawn_local,
};

use super::{message::AppEvent, replay::Control, runtime};
use crate::source::{Feed, Selection, Subtree};

/// Batches of the event source queued at most: a source that runs ahead waits (its kernel
/// buffer holds what comes meanwhile, and counts what does not fit), and a key never waits
/// behind more than what the loop takes in one turn.
pub(super) const SOURCE_CHANNEL: usize = 4;

/// A feed's answer, borrowing the feed until it comes.
pub type Next<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What feeds the application, for the status line and the banner.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceInfo {
    /// Its name in the status line: `eBPF`, `netlink`, `procfs`.
    pub name: String,
    /// Lines of the banner at the top: at start, what the source misses and why better
    /// ones could not run; later, what must be read whole (`App::notice`), such as a
    /// recording's write error or the damage a replay met.
    pub notices: Vec<String>,
    /// It sees less than the eBPF probe: its name is shown in the warning colour.
    pub limited: bool,
}

impl SourceInfo {
    /// A live backend as [`crate::source::Source::open_live`] chose it.
    pub fn live(selection: &Selection) -> Self {
        let limited = selection.limits().is_some();
        let notices = if limited {
            std::iter::once(format!("watching with {}", selection.summary()))
                .chain(selection.notices())
                .collect()
        } else {
            Vec::new()
        };
        Self {
            name: selection.backend.name().to_owned(),
            notices,
            limited,
        }
    }
}

/// A [`Feed`] as the loop reads it: messages for the state, and the replay controls. The
/// loop reads the feed only when the channel of keys, ticks and signals is empty, and
/// waits for a control to be carried out before its next message.
pub trait UiFeed {
    /// The next message for the state: events, or where a replay is. Waits for ever once
    /// there is nothing more. Cancel-safe: nothing is lost if it is dropped before it
    /// returns.
    fn next(&mut self) -> Next<'_, AppEvent>;

    /// Carries out a replay key's control and returns what the state must apply at once.
    /// A live source has no controls: the state asks for none, and it gives nothing.
    fn control(&mut self, control: Control) -> Next<'_, Vec<AppEvent>>;

    /// Asks the source to send only the events of `subtrees` (none: every event); the
    /// answer comes as [`AppEvent::Filtering`]. A replay has every event already: no answer.
    fn follow_only(&mut self, subtrees: Vec<Subtree>) {
        let _ = subtrees;
    }
}

/// A live source, read in a task of its own ([`feed_source`]) through a short channel
/// ([`source_channel`]). Its clock is the machine's: [`runtime::feed_ticks`].
pub struct LiveFeed {
    /// `None` once the source's task ended.
    events: Option<Receiver<AppEvent>>,
    /// To the source's task: the subtrees to follow.
    follow: Option<UnboundedSender<Vec<Subtree>>>,
}

impl LiveFeed {
    /// Starts reading `source`, and sending the time to `sender`. Must run inside a
    /// `LocalSet`.
    pub fn spawn(source: impl Feed + 'static, sender: &Sender<AppEvent>) -> Self {
        let (source_sender, events) = source_channel();
        let (follow, requests) = mpsc::unbounded_channel();
        spawn_local(feed_source(source, source_sender, requests));
        spawn_local(runtime::feed_ticks(sender.clone()));
        Self {
            follow: Some(follow),
            ..Self::from(events)
        }
    }
}

/// The feed of what a source's task sends down `events`.
impl From<Receiver<AppEvent>> for LiveFeed {
    fn from(events: Receiver<AppEvent>) -> Self {
        Self {
            events: Some(events),
            follow: None,
        }
    }
}

impl UiFeed for LiveFeed {
    fn next(&mut self) -> Next<'_, AppEvent> {
        Box::pin(async move {
            if let Some(events) = &mut self.events {
                if let Some(event) = events.recv().await {
                    return event;
                }
                // The task said why it ended before it did.
                self.events = None;
            }
            std::future::pending().await
        })
    }

    fn control(&mut self, _control: Control) -> Next<'_, Vec<AppEvent>> {
        Box::pin(async { Vec::new() })
    }

    fn follow_only(&mut self, subtrees: Vec<Subtree>) {
        if let Some(follow) = &self.follow {
            // The task is gone only when the source ended, which the loop learns anyway.
            let _ = follow.send(subtrees);
        }
    }
}

/// The channel of a live source's task, read by the loop only when the other channel is
/// empty: a source that always has more cannot hold up keys, ticks or signals.
pub(super) fn source_channel() -> (Sender<AppEvent>, Receiver<AppEvent>) {
    mpsc::channel(SOURCE_CHANNEL)
}

/// Sends the source's events until it ends or fails, or the application is gone; passes
/// on what the application asks it to follow.
async fn feed_source(
    mut source: impl Feed,
    sender: Sender<AppEvent>,
    mut requests: UnboundedReceiver<Vec<Subtree>>,
) {
    loop {
        let mut batch = Vec::new();
        // Reading is cancel safe: a source interrupted while it waits has taken nothing.
        let read = tokio::select! {
            read = source.next_batch(&mut batch) => read,
            Some(subtrees) = requests.recv() => {
                let filtering = source.follow_only(&subtrees);
                if sender.send(AppEvent::Filtering(filtering)).await.is_err() {
                    return;
                }
                continue;
            }
        };
        let event = match read {
            Ok(true) if batch.is_empty() => continue,
            Ok(true) => AppEvent::Events(batch),
            Ok(false) => {
                if !batch.is_empty() && sender.send(AppEvent::Events(batch)).await.is_err() {
                    return;
                }
                let _ = sender.send(AppEvent::SourceEnded).await;
                return;
            }
            Err(e) => {
                let _ = sender.send(AppEvent::SourceFailed(format!("{e:#}"))).await;
                return;
            }
        };
        if sender.send(event).await.is_err() {
            return;
        }
    }
}
